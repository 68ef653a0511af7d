"""Open talentsim results files as xarray Datasets.

A talentsim results file is HDF5 laid out by netCDF-4 conventions. Its root
attribute ``file_type`` says which of three kinds it is, and
``file_format_version`` which layout it has:

- ``talentsim-run``: one scenario run (``talentsim run``);
- ``talentsim-compare``: a baseline and a what-if, in groups ``baseline`` and
  ``whatif``, each laid out as a run (``talentsim compare``);
- ``talentsim-sweep``: a parameter sweep with a ``point`` dimension
  (``talentsim sweep``);
- ``talentsim-calibration``: a calibration (``talentsim calibrate``): every
  ABC-SMC generation's particles over ``generation``, ``particle``,
  ``parameter`` and ``target``, the posterior summary and the fit of the
  calibrated scenario.
"""

import errno

import h5py
import numpy as np
import pandas as pd
import xarray as xr

SUPPORTED_FORMAT_VERSIONS = (1,)

# file_type attribute -> the kind this package calls it.
_KINDS = {"talentsim-run": "run", "talentsim-compare": "compare", "talentsim-sweep": "sweep",
          "talentsim-calibration": "calibration"}

# The two runs of a comparison, in the order of the "run" dimension.
COMPARE_RUNS = ("baseline", "whatif")


class FormatError(ValueError):
    """A file this package cannot read: not a talentsim results file, a
    file_type it does not know, or an unsupported file_format_version."""


def _text(value):
    """An HDF5 string attribute as str (h5py gives fixed-length strings as bytes)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _root_attributes(path):
    """The root attributes of an HDF5 file; PermissionError if it cannot be read, FormatError
    if it is not HDF5 (or is truncated)."""
    try:
        with h5py.File(path, "r") as f:
            return dict(f.attrs)
    except FileNotFoundError:
        raise
    except PermissionError as e:
        # Not a format problem: the file may be fine, this user just cannot read it.
        raise PermissionError(e.errno or errno.EACCES,
                              f"permission denied: cannot read {path} (check its permissions)",
                              str(path)) from None
    except OSError as e:
        raise FormatError(
            f"{path}: not a readable HDF5 file ({e}); expected a results file written by "
            "`talentsim run`, `talentsim compare` or `talentsim sweep` (a truncated file "
            "means the writer did not finish: write it again)") from None


def file_type(path):
    """The kind of talentsim results file at ``path``: "run", "compare", "sweep" or
    "calibration".

    Reads only the root attributes. Raises FormatError for a file that is not
    HDF5, has no talentsim ``file_type``, has one this package does not know,
    or has no ``file_format_version`` or one not in SUPPORTED_FORMAT_VERSIONS;
    PermissionError for a file this user may not read.
    """
    attrs = _root_attributes(path)
    known = ", ".join(_KINDS)
    if "file_type" not in attrs:
        raise FormatError(
            f"{path}: not a talentsim results file (no file_type attribute at the root); "
            f"expected one of {known}, as written by `talentsim run`, `compare` or `sweep`")
    found = _text(attrs["file_type"])
    if found not in _KINDS:
        raise FormatError(
            f"{path}: file_type is {found!r}, which this package does not read; supported: "
            f"{known}. Upgrade this package if a newer talentsim wrote the file")
    supported = ", ".join(str(v) for v in SUPPORTED_FORMAT_VERSIONS)
    if "file_format_version" not in attrs:
        raise FormatError(
            f"{path}: has no file_format_version attribute (file_type {found!r}); this package "
            f"reads version {supported}: rewrite the file with a talentsim whose format is "
            f"{supported}")
    version = attrs["file_format_version"]
    if not (np.issubdtype(np.asarray(version).dtype, np.integer)
            and int(version) in SUPPORTED_FORMAT_VERSIONS):
        raise FormatError(
            f"{path}: file_format_version is {version}, this package reads version "
            f"{supported}; rewrite it with a talentsim whose format is {supported}, or "
            "upgrade this package")
    return _KINDS[found]


def _load(path, group=None):
    """One netCDF group (or the root) of ``path``, read into memory; the file is closed."""
    with xr.open_dataset(path, group=group) as ds:
        return ds.load()


def _ordered_union(a, b):
    """The labels of index ``a`` followed by those of ``b`` not in ``a``."""
    return a.append(b[~b.isin(a)])


def _open_comparison(path):
    """Both runs of a comparison file, concatenated along a leading "run" dimension.

    Labels of every dimension are joined outside (a what-if may add labs,
    named researchers or questions, or start earlier or end later), keeping
    the baseline's order, except that dates (time) are sorted; values a run
    does not have are NaN. The questions' auxiliary coordinates
    (question_text, question_at_least, ...) get the run dimension too, since a
    what-if may change a question's bounds; NaN where the run lacks it.
    """
    runs = [_load(path, group) for group in COMPARE_RUNS]
    dims = set(runs[0].indexes) | set(runs[1].indexes)
    union = {d: _ordered_union(runs[0].indexes[d], runs[1].indexes[d]) for d in dims}
    # Dates are sorted: a what-if that starts earlier adds steps before the baseline's
    # first, and label-based selection (ds.sel(time=slice(...))) needs a monotonic index.
    if "time" in union:
        union["time"] = union["time"].sort_values()
    runs = [r.reindex({d: union[d] for d in r.indexes}) for r in runs]
    ds = xr.concat(runs, dim=pd.Index(list(COMPARE_RUNS), name="run"), coords="all",
                   combine_attrs="drop")
    return ds.transpose("run", ...)


def open_results(path):
    """A talentsim results file as an in-memory xarray Dataset.

    A run, sweep or calibration file opens as it is; a comparison file as its two runs
    concatenated along a new leading dimension "run" = ["baseline", "whatif"]
    (see _open_comparison), with the root attributes in ``ds.attrs``. In every
    case ``ds.attrs["talentsim_kind"]`` is "run", "compare", "sweep" or "calibration".
    Raises FormatError (see file_type) before reading any data.
    """
    kind = file_type(path)
    ds = _load(path)
    if kind == "compare":
        ds = _open_comparison(path).assign_attrs(ds.attrs)
    ds.attrs["talentsim_kind"] = kind
    return ds


def require_kind(ds, kinds, what):
    """The kind of a Dataset from open_results; ValueError unless it is one of ``kinds``.

    ``what`` names the operation for the message, e.g. "plot_sobol".
    """
    kind = ds.attrs.get("talentsim_kind")
    if kind is None:
        raise ValueError(f"{what}: the dataset has no talentsim_kind attribute; open the file "
                         "with talentsim_analysis.open_results")
    if kind not in kinds:
        raise ValueError(f"{what} needs a {' or '.join(kinds)} file, not a {kind} file")
    return kind
