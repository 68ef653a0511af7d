#!/usr/bin/python3
"""Check that a talentsim results file reads back through xarray as expected.

usage: check_results_xarray.py FILE.h5 EXPECTED.json

EXPECTED.json describes what the file must hold; test_results_file.cpp writes
both (see tests/sample_results.hpp) and runs this script. The file is opened
with xarray.open_dataset(path) (default engine: netCDF4, that is netCDF-C)
and, if the h5netcdf module is installed, with engine="h5netcdf" too.
Dimensions, labels, decoded dates, values (bit for bit), the forecast
questions' auxiliary coordinates, variable attributes and root attributes
are compared; the distribution summaries (headcount_quantiles, ...) are
compared with what numpy.quantile computes from the data variables.

A run file's EXPECTED.json describes its root. A comparison file's has
"attrs" for the root and "groups": {"baseline": <run>, "whatif": <run>};
the root must open as an empty dataset with those attributes, and each
group with xarray.open_dataset(path, group=...) as a run.

Exit status: 0 when everything matches; 1 on a mismatch, with a message
saying what differs; 2 on bad usage; 77 when numpy, xarray or netCDF4 is not
installed (the test then skips). A crash of the reader, even at interpreter
exit, shows as a signal or a non-zero status.
"""

import datetime
import importlib.util
import json
import sys

SKIP = 77


class Mismatch(Exception):
    pass


def check(condition, message):
    if not condition:
        raise Mismatch(message)


def first_difference(got, expected):
    """Index and values of the first element where two equal-shape arrays differ."""
    import numpy as np

    if got.dtype.kind == "f":  # compare bits so that -0.0 != 0.0 and NaN == NaN
        differ = got.view(np.uint64) != expected.view(np.uint64)
    else:
        differ = got != expected
    index = tuple(int(i) for i in np.argwhere(differ)[0])
    return f"first difference at {index}: got {got[index]!r}, expected {expected[index]!r}"


def check_coordinates(ds, expected):
    import numpy as np

    for name, labels in expected["coords"].items():
        check(name in ds.coords, f"coordinate {name!r} is missing")
        values = ds[name].values
        check(ds[name].dims == (name,), f"coordinate {name!r} has dims {ds[name].dims}")
        if name == "time":
            check(values.dtype.kind == "M",
                  f"time decoded as {values.dtype}, expected datetime64 "
                  f"(attrs {ds['time'].attrs}, encoding {ds['time'].encoding})")
            got = [str(np.datetime_as_string(v, unit="D")) for v in values]
            midnight = [np.datetime_as_string(v, unit="s").endswith("T00:00:00") for v in values]
            check(all(midnight), f"time values are not at midnight: {values}")
        elif name == "replicate":
            check(values.dtype.kind == "i", f"replicate has dtype {values.dtype}")
            got = [int(v) for v in values]
        elif name == "quantile":
            check(values.dtype == np.float64, f"quantile has dtype {values.dtype}")
            got = [float(v) for v in values]
        else:
            check(all(isinstance(v, str) for v in values),
                  f"labels of {name!r} are not str: {[type(v).__name__ for v in values]}")
            got = list(values)
        check(got == labels, f"coordinate {name!r} is {got}, expected {labels}")


def same_reals(got, want):
    """Equal lists of floats, None in `want` standing for NaN."""
    import math

    return len(got) == len(want) and all(
        (w is None and math.isnan(g)) or (w is not None and g == w) for g, w in zip(got, want))


def check_question_coordinates(ds, expected):
    import numpy as np

    names = list(expected["question_coords"])
    for name, want in expected["question_coords"].items():
        check(name in ds.coords,
              f"{name!r} is not a coordinate (coords {sorted(ds.coords)}, "
              f"data variables {sorted(ds.data_vars)})")
        var = ds[name]
        check(var.dims == ("question",), f"{name} has dims {var.dims}")
        check(var.attrs.get("long_name") and var.attrs.get("description"),
              f"{name} lacks long_name/description: {var.attrs}")
        values = var.values
        if name in ("question_at_least", "question_at_most"):
            check(values.dtype == np.float64, f"{name} has dtype {values.dtype}")
            check("_FillValue" not in var.attrs and "_FillValue" not in var.encoding,
                  f"{name} has a _FillValue, which would make xarray mask data")
            got = [float(v) for v in values]
            check(same_reals(got, want), f"{name} is {got}, expected {want} (None: NaN)")
        else:
            check(all(isinstance(v, str) for v in values),
                  f"{name} values are not str: {[type(v).__name__ for v in values]}")
            check(list(values) == want, f"{name} is {list(values)}, expected {want}")
    value_coords = set(ds["question_value"].coords)
    check(set(names) <= value_coords,
          f"question_value has coords {sorted(value_coords)}, expected {names} among them")


def expected_summary(ds, of, quantiles):
    """What a summary variable must hold, computed with numpy from the data."""
    import numpy as np

    headcount = ds["headcount"].values  # (replicate, time, lab, tier)
    if of == "headcount":
        values = headcount.astype(np.float64)
    elif of == "total_headcount":
        values = headcount.astype(np.int64).sum(axis=3).astype(np.float64)
    elif of == "share":
        power = ds["star_power"].values  # (replicate, time, lab)
        total = power.sum(axis=2, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            values = np.where(total == 0, 0.0, power / np.where(total == 0, 1.0, total))
    else:
        raise Mismatch(f"unknown summary {of!r}")
    return np.quantile(values, quantiles, axis=0, method="linear")


def check_summaries(ds, expected):
    import numpy as np

    quantiles = np.array(expected["coords"]["quantile"], dtype=np.float64)
    for name, spec in expected["summaries"].items():
        check(name in ds.data_vars, f"summary {name!r} is missing")
        var = ds[name]
        check(var.dims == tuple(spec["dims"]),
              f"{name} has dims {var.dims}, expected {spec['dims']}")
        check(var.dtype == np.float64, f"{name} has dtype {var.dtype}")
        description = var.attrs.get("description", "")
        check(var.attrs.get("long_name") and "type 7" in description and "linear" in description,
              f"{name} lacks long_name or a description of the method: {var.attrs}")
        check(var.attrs.get("units") == spec["units"],
              f"{name} has units {var.attrs.get('units')!r}, expected {spec['units']!r}")
        check("_FillValue" not in var.attrs and "_FillValue" not in var.encoding,
              f"{name} has a _FillValue, which would make xarray mask data")
        got = var.values
        want = expected_summary(ds, spec["of"], quantiles)
        check(got.shape == want.shape, f"{name} has shape {got.shape}, expected {want.shape}")
        scale = float(np.nanmax(np.abs(want))) if want.size and not np.isnan(want).all() else 1.0
        if not np.allclose(got, want, rtol=1e-12, atol=1e-12 * scale, equal_nan=True):
            differ = ~np.isclose(got, want, rtol=1e-12, atol=1e-12 * scale, equal_nan=True)
            index = tuple(int(i) for i in np.argwhere(differ)[0])
            raise Mismatch(f"{name} differs from numpy.quantile at {index}: "
                           f"got {got[index]!r}, expected {want[index]!r}")
    # Label-based selection of a percentile, as for a fan chart.
    if expected["dims"]["time"] and expected["dims"]["lab"]:
        median = ds["total_headcount_quantiles"].sel(quantile=0.5)
        check(median.dims == ("time", "lab"), f"selecting the median gave dims {median.dims}")


def check_variables(ds, expected):
    import numpy as np

    wanted = set(expected["variables"]) | set(expected.get("summaries", {}))
    check(set(ds.data_vars) == wanted,
          f"data variables {sorted(ds.data_vars)}, expected {sorted(wanted)}")
    for name, spec in expected["variables"].items():
        var = ds[name]
        check(var.dims == tuple(spec["dims"]),
              f"{name} has dims {var.dims}, expected {spec['dims']}")
        check(var.dtype == np.dtype(spec["dtype"]),
              f"{name} has dtype {var.dtype}, expected {spec['dtype']}")
        shape = tuple(expected["dims"][d] for d in spec["dims"])
        values = var.values
        check(values.shape == shape, f"{name} has shape {values.shape}, expected {shape}")
        want = np.array(spec["values"], dtype=spec["dtype"]).reshape(shape)
        if want.dtype.kind == "f":  # bit for bit, not merely close
            same = np.array_equal(values.view(np.uint64), want.view(np.uint64))
        else:
            same = np.array_equal(values, want)
        if not same:
            raise Mismatch(f"{name} values differ: {first_difference(values, want)}")
        check(var.attrs.get("long_name") and var.attrs.get("description"),
              f"{name} lacks long_name/description: {var.attrs}")
        if "units" in spec:
            check(var.attrs.get("units") == spec["units"],
                  f"{name} has units {var.attrs.get('units')!r}, expected {spec['units']!r}")
        check("_FillValue" not in var.attrs and "_FillValue" not in var.encoding,
              f"{name} has a _FillValue, which would make xarray mask data")


def check_attributes(ds, expected):
    import numpy as np

    for key, want in expected["attrs"].items():
        check(key in ds.attrs, f"root attribute {key!r} is missing")
        got = ds.attrs[key]
        if isinstance(want, int):
            check(isinstance(got, (int, np.integer)) and int(got) == want,
                  f"attribute {key!r} is {got!r} ({type(got).__name__}), expected {want!r}")
        else:
            check(isinstance(got, str) and got == want,
                  f"attribute {key!r} is {got!r} ({type(got).__name__}), expected {want!r}")
    created = ds.attrs.get("created")
    check(isinstance(created, str), f"attribute 'created' is {created!r}")
    try:
        when = datetime.datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise Mismatch(f"attribute 'created' is {created!r}, not ISO-8601 UTC") from None
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    check(abs(now - when) < datetime.timedelta(days=2),
          f"attribute 'created' is {created!r}, far from now")


def check_run(ds, expected):
    check(dict(ds.sizes) == expected["dims"],
          f"dimensions {dict(ds.sizes)}, expected {expected['dims']}")
    check_coordinates(ds, expected)
    check_question_coordinates(ds, expected)
    check_variables(ds, expected)
    check_summaries(ds, expected)
    check_attributes(ds, expected)
    # Label-based selection is what users do first; it must work.
    if expected["dims"]["lab"] and expected["dims"]["time"]:
        lab = expected["coords"]["lab"][-1]
        sel = ds["headcount"].sel(lab=lab, time=expected["coords"]["time"][-1])
        check(sel.dims == ("replicate", "tier"), f"selection gave dims {sel.dims}")
    if expected["dims"]["question"]:
        question = expected["coords"]["question"][-1]
        sel = ds["question_value"].sel(question=question)
        check(sel.dims == ("replicate",), f"selecting a question gave dims {sel.dims}")


def check_engine(path, expected, engine):
    import xarray as xr

    kwargs = {} if engine is None else {"engine": engine}
    if "groups" not in expected:
        with xr.open_dataset(path, **kwargs) as ds:
            check_run(ds, expected)
        return
    with xr.open_dataset(path, **kwargs) as root:
        check(dict(root.sizes) == {} and not root.variables,
              f"the root of a comparison file holds {dict(root.sizes)}, {list(root.variables)}")
        check_attributes(root, expected)
    for group, run in expected["groups"].items():
        with xr.open_dataset(path, group=group, **kwargs) as ds:
            try:
                check_run(ds, run)
            except Mismatch as e:
                raise Mismatch(f"group {group}: {e}") from None


def missing_module():
    """The first module the check needs that is not installed, or None."""
    for module in ("numpy", "xarray", "netCDF4"):
        if importlib.util.find_spec(module) is None:
            return module
    return None


def check_with_every_engine(path, check_one):
    """Runs check_one(path, engine) with xarray's default engine and, if
    installed, h5netcdf; prints what happened and returns the exit status."""
    engines = [None]  # xarray's default, netCDF4 here
    if importlib.util.find_spec("h5netcdf") is not None:
        engines.append("h5netcdf")
    else:
        print("note: h5netcdf is not installed; checked with the default engine only")
    for engine in engines:
        label = engine or "default (netcdf4)"
        try:
            check_one(path, engine)
        except Mismatch as e:
            print(f"FAIL: {path} read with engine {label}: {e}", file=sys.stderr)
            return 1
        except Exception as e:  # noqa: BLE001 - a reader crash is a failure to report
            print(f"FAIL: {path} read with engine {label} raised {type(e).__name__}: {e}",
                  file=sys.stderr)
            return 1
        print(f"ok: {path} read with engine {label}")
    return 0


def main(argv):
    if len(argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    path, expected_path = argv[1], argv[2]
    module = missing_module()
    if module is not None:
        print(f"SKIP: Python module {module} is not installed ({sys.executable})")
        return SKIP
    with open(expected_path, encoding="utf-8") as f:
        expected = json.load(f)
    return check_with_every_engine(path, lambda p, engine: check_engine(p, expected, engine))

if __name__ == "__main__":
    sys.exit(main(sys.argv))
