"""Exit 0 if two HDF5 files hold the same objects, data and attributes.

    same_h5.py A B [--ignore-attribute NAME ...]

Compares every group and dataset (values bit for bit, dtype, shape) and
every attribute except those named, then prints the first difference.
Used to show that a resumed sweep ends identical to an uninterrupted one;
`created` and `command_line` describe the invocation, not the results.
"""
import argparse
import sys

import h5py
import numpy as np


def attributes(obj, ignore):
    out = {}
    for k, v in obj.attrs.items():
        if k in ignore or k in ("DIMENSION_LIST", "REFERENCE_LIST"):
            continue
        out[k] = v
    return out


def same_value(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    if a.dtype.kind in "fc":
        return a.tobytes() == b.tobytes()
    return bool(np.all(a == b))


def compare(fa, fb, ignore):
    names_a, names_b = [], []
    fa.visit(names_a.append)
    fb.visit(names_b.append)
    if sorted(names_a) != sorted(names_b):
        return f"objects differ: {sorted(set(names_a) ^ set(names_b))}"
    for name in [""] + sorted(names_a):
        a, b = (fa[name], fb[name]) if name else (fa, fb)
        if type(a) is not type(b):
            return f"{name}: one is a group, the other a dataset"
        aa, ab = attributes(a, ignore), attributes(b, ignore)
        if sorted(aa) != sorted(ab):
            return f"{name or '/'}: attributes differ: {sorted(set(aa) ^ set(ab))}"
        for k in aa:
            if not same_value(aa[k], ab[k]):
                return f"{name or '/'}: attribute {k} differs: {aa[k]!r} vs {ab[k]!r}"
        if isinstance(a, h5py.Dataset) and not same_value(a[()], b[()]):
            return f"{name}: data differ"
    return None


def main():
    p = argparse.ArgumentParser()
    p.add_argument("a")
    p.add_argument("b")
    p.add_argument("--ignore-attribute", action="append", default=[])
    args = p.parse_args()
    with h5py.File(args.a, "r") as fa, h5py.File(args.b, "r") as fb:
        difference = compare(fa, fb, set(args.ignore_attribute))
    if difference:
        print(f"{args.a} and {args.b} differ: {difference}")
        return 1
    print("same")
    return 0


if __name__ == "__main__":
    sys.exit(main())
