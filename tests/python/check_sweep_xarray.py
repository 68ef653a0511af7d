#!/usr/bin/python3
"""Check that a talentsim sweep file reads back through xarray as labelled arrays.

usage: check_sweep_xarray.py FILE.h5 [EXPECTED.json]

The file is opened with xarray.open_dataset(path) (default engine: netCDF4,
that is netCDF-C) and, if the h5netcdf module is installed, with
engine="h5netcdf" too. Checked: the root attributes (file_type
"talentsim-sweep", points, replicates, full), the dimensions and their
coordinates (point 0..P-1, parameter paths with parameter_scale, question
ids with their auxiliary coordinates, lab and tier names, quantile, and,
with `output: full`, time as dates and from_lab/to_lab; with Sobol'
indices, output), the dimensions and types of every variable, that each has
long_name and description and no _FillValue, that headcount is the last
step of step_headcount (full files), and that label-based selection works.

EXPECTED.json, if given, holds the labels the file must have: "parameters",
"scales", "questions", "labs", "tiers", "start_date" and "outputs" (null
when the file has no Sobol' indices).

Exit status: 0 when everything matches; 1 on a mismatch, with a message
saying what differs; 2 on bad usage; 77 when numpy, xarray or netCDF4 is not
installed (the test then skips).
"""

import json
import sys

# The same directory: the run-file check's reporting and engine loop.
from check_results_xarray import SKIP, check, check_with_every_engine, missing_module

QUANTILES = [0.05, 0.25, 0.50, 0.75, 0.95]

# Variable: (dims, dtype). Always present.
VARIABLES = {
    "parameter_value": (("point", "parameter"), "float64"),
    "question_value": (("point", "replicate", "question"), "float64"),
    "headcount": (("point", "replicate", "lab", "tier"), "int32"),
    "question_probability": (("point", "question"), "float64"),
    "question_low": (("point", "question"), "float64"),
    "question_high": (("point", "question"), "float64"),
    "question_mean": (("point", "question"), "float64"),
    "headcount_mean": (("point", "lab"), "float64"),
    "headcount_quantile": (("point", "quantile", "lab"), "float64"),
}
# With `output: full`.
FULL_VARIABLES = {
    "step_headcount": (("point", "replicate", "time", "lab", "tier"), "int32"),
    "step_hires": (("point", "replicate", "time", "lab", "tier"), "int32"),
    "step_departures": (("point", "replicate", "time", "lab", "tier"), "int32"),
    "step_star_power": (("point", "replicate", "time", "lab"), "float64"),
    "flows": (("point", "replicate", "from_lab", "to_lab", "tier"), "int32"),
}
# With Sobol' indices.
SOBOL_VARIABLES = {
    name: (("parameter", "output"), "float64")
    for name in ("sobol_first", "sobol_first_low", "sobol_first_high", "sobol_total",
                 "sobol_total_low", "sobol_total_high")
}
SOBOL_VARIABLES["output_variance"] = (("output",), "float64")
SOBOL_VARIABLES["output_noise_variance"] = (("output",), "float64")

QUESTION_COORDS = ["question_text", "question_metric", "question_lab", "question_at_least",
                   "question_at_most"]


def labels(ds, name):
    values = list(ds[name].values)
    check(ds[name].dims == (name,), f"coordinate {name!r} has dims {ds[name].dims}")
    check(all(isinstance(v, str) for v in values),
          f"labels of {name!r} are not str: {[type(v).__name__ for v in values]}")
    return values


def check_sweep(ds, expected):
    import numpy as np

    attrs = ds.attrs
    check(attrs.get("file_type") == "talentsim-sweep",
          f"file_type is {attrs.get('file_type')!r}, expected 'talentsim-sweep'")
    for key in ("title", "Conventions", "software_version", "git_commit", "created",
                "command_line", "name", "design", "start_date", "sweep", "scenario",
                "scenario_name"):
        check(key in attrs, f"root attribute {key!r} is missing")
    for key in ("file_format_version", "points", "replicates", "base_samples", "seed", "steps",
                "step_days", "full"):
        check(isinstance(attrs.get(key), (int, np.integer)),
              f"root attribute {key!r} is {attrs.get(key)!r}, expected an integer")
    points, replicates = int(attrs["points"]), int(attrs["replicates"])
    full = int(attrs["full"]) == 1
    sobol = "output" in ds.dims

    sizes = dict(ds.sizes)
    check(sizes.get("point") == points, f"point has length {sizes.get('point')}, expected {points}")
    check(sizes.get("replicate") == replicates,
          f"replicate has length {sizes.get('replicate')}, expected {replicates}")
    check(sizes.get("quantile") == len(QUANTILES), f"quantile has length {sizes.get('quantile')}")
    for name in ("parameter", "question", "lab", "tier"):
        check(name in sizes, f"dimension {name!r} is missing (dims {sizes})")
    for name in ("time", "from_lab", "to_lab"):
        check((name in sizes) == full,
              f"dimension {name!r} {'missing' if full else 'present'} in a file with full = "
              f"{int(full)} (dims {sizes})")
    if full:
        check(sizes["time"] == int(attrs["steps"]),
              f"time has length {sizes['time']}, the steps attribute says {attrs['steps']}")

    # Coordinates.
    point = ds["point"].values
    check(point.dtype.kind == "i" and list(point) == list(range(points)),
          f"point is {point!r}, expected 0..{points - 1}")
    replicate = ds["replicate"].values
    check(list(replicate) == list(range(replicates)), f"replicate is {replicate!r}")
    quantile = ds["quantile"].values
    check(quantile.dtype == np.float64 and list(quantile) == QUANTILES,
          f"quantile is {quantile!r}")
    parameters = labels(ds, "parameter")
    check("parameter_scale" in ds.coords,
          f"parameter_scale is not a coordinate (coords {sorted(ds.coords)})")
    check(ds["parameter_scale"].dims == ("parameter",),
          f"parameter_scale has dims {ds['parameter_scale'].dims}")
    scales = list(ds["parameter_scale"].values)
    check(all(s in ("linear", "log", "listed") for s in scales), f"parameter_scale is {scales}")
    questions = labels(ds, "question")
    for name in QUESTION_COORDS:
        check(name in ds.coords, f"{name!r} is not a coordinate (coords {sorted(ds.coords)})")
        check(ds[name].dims == ("question",), f"{name} has dims {ds[name].dims}")
    labs, tiers = labels(ds, "lab"), labels(ds, "tier")
    if full:
        check(labels(ds, "from_lab") == labs and labels(ds, "to_lab") == labs,
              "from_lab or to_lab differ from lab")
        time = ds["time"].values
        check(time.dtype.kind == "M", f"time decoded as {time.dtype}, expected datetime64 "
              f"(attrs {ds['time'].attrs}, encoding {ds['time'].encoding})")
        if len(time):
            first = str(np.datetime_as_string(time[0], unit="D"))
            check(first == attrs["start_date"],
                  f"time starts on {first}, start_date is {attrs['start_date']}")
    outputs = labels(ds, "output") if sobol else None

    # Variables.
    wanted = dict(VARIABLES)
    if full:
        wanted.update(FULL_VARIABLES)
    if sobol:
        wanted.update(SOBOL_VARIABLES)
        check(isinstance(attrs.get("bootstrap_resamples"), (int, np.integer)),
              f"bootstrap_resamples is {attrs.get('bootstrap_resamples')!r}")
    check(set(ds.data_vars) == set(wanted),
          f"data variables {sorted(ds.data_vars)}, expected {sorted(wanted)}")
    for name, (dims, dtype) in wanted.items():
        var = ds[name]
        check(var.dims == dims, f"{name} has dims {var.dims}, expected {dims}")
        check(var.dtype == np.dtype(dtype), f"{name} has dtype {var.dtype}, expected {dtype}")
        check(var.attrs.get("long_name") and var.attrs.get("description"),
              f"{name} lacks long_name/description: {var.attrs}")
        check("_FillValue" not in var.attrs and "_FillValue" not in var.encoding,
              f"{name} has a _FillValue, which would make xarray mask data")
    check(set(QUESTION_COORDS) <= set(ds["question_value"].coords),
          f"question_value has coords {sorted(ds['question_value'].coords)}")
    if full and sizes["time"]:
        last = ds["step_headcount"].isel(time=-1).values
        check(np.array_equal(ds["headcount"].values, last),
              "headcount differs from the last step of step_headcount")

    # Label-based selection, as users do first.
    if parameters:
        sel = ds["parameter_value"].sel(parameter=parameters[-1])
        check(sel.dims == ("point",), f"selecting a parameter gave dims {sel.dims}")
    if questions:
        sel = ds["question_value"].sel(question=questions[-1])
        check(sel.dims == ("point", "replicate"), f"selecting a question gave dims {sel.dims}")
    if labs:
        sel = ds["headcount_quantile"].sel(lab=labs[0], quantile=0.5)
        check(sel.dims == ("point",), f"selecting a lab's median gave dims {sel.dims}")

    if expected is not None:
        got = {"parameters": parameters, "scales": scales, "questions": questions, "labs": labs,
               "tiers": tiers, "start_date": attrs["start_date"], "outputs": outputs}
        for key, want in expected.items():
            check(key in got, f"unknown key {key!r} in the expectations")
            check(got[key] == want, f"{key} is {got[key]!r}, expected {want!r}")


def main(argv):
    if len(argv) not in (2, 3):
        print(__doc__, file=sys.stderr)
        return 2
    path = argv[1]
    module = missing_module()
    if module is not None:
        print(f"SKIP: Python module {module} is not installed ({sys.executable})")
        return SKIP
    expected = None
    if len(argv) == 3:
        with open(argv[2], encoding="utf-8") as f:
            expected = json.load(f)

    import xarray as xr

    def check_one(p, engine):
        kwargs = {} if engine is None else {"engine": engine}
        with xr.open_dataset(p, **kwargs) as ds:
            check_sweep(ds, expected)

    return check_with_every_engine(path, check_one)

if __name__ == "__main__":
    sys.exit(main(sys.argv))
