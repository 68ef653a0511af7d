"""Opening real talentsim files: kinds, layout, and the errors for files we cannot read."""

import os
import shutil

import h5py
import numpy as np
import pandas as pd
import pytest
import xarray as xr

import talentsim_analysis as ta
from talentsim_analysis import io as io_module


@pytest.mark.parametrize("fixture, kind", [
    ("run_file", "run"), ("compare_file", "compare"), ("grid_file", "sweep"),
    ("sobol_file", "sweep"), ("full_file", "sweep"), ("calibration_file", "calibration")])
def test_file_type_and_kind(request, fixture, kind):
    path = request.getfixturevalue(fixture)
    assert ta.file_type(path) == kind
    assert ta.open_results(path).attrs["talentsim_kind"] == kind


def test_calibration_layout(calibration_file, work):
    ds = ta.open_results(calibration_file)
    assert dict(ds.sizes) == {"generation": 3, "particle": 20, "parameter": 2, "target": 2,
                              "prediction": 0}
    assert list(ds["parameter"].values) == ["market.switching_cost", "market.star_magnet"]
    assert list(ds["target"].values) == ["laba_hires", "laba_retention"]
    # Weights are a distribution in every generation; particles lie within the bounds.
    np.testing.assert_allclose(ds["weight"].sum("particle").values, 1.0)
    assert bool(((ds["theta"] >= ds["low"]) & (ds["theta"] <= ds["high"])).all())
    # The estimate is written into the calibrated scenario beside the file.
    written = (work / "calib.calibrated.yaml").read_text()
    assert f"switching_cost: {ds['estimate'].values[0]:g}" in written
    assert ds.attrs["file_type"] == "talentsim-calibration"


def test_run_layout(run_ds):
    assert dict(run_ds.sizes) == {"replicate": 20, "time": 53, "lab": 4, "tier": 3, "named": 3,
                                  "from_lab": 4, "to_lab": 4, "question": 7, "quantile": 5}
    assert list(run_ds["lab"].values) == ["LabA", "LabB", "Outside", "SpinOut"]
    assert list(run_ds["tier"].values) == ["junior", "senior", "star"]
    time = run_ds["time"].values
    assert time.dtype.kind == "M" and str(time[0])[:10] == "2026-01-01"
    assert (np.diff(time) == np.timedelta64(7, "D")).all()
    assert run_ds["headcount"].dims == ("replicate", "time", "lab", "tier")
    assert run_ds.attrs["file_type"] == "talentsim-run"


def test_run_is_loaded_and_closed(run_file, tmp_path):
    copy = tmp_path / "run.h5"
    shutil.copy(run_file, copy)
    ds = ta.open_results(copy)
    with h5py.File(copy, "r+"):  # fails while another handle holds the file open
        pass
    assert int(ds["headcount"].sum()) > 0


def test_compare_concatenates_runs(compare_file, compare_ds):
    assert list(compare_ds["run"].values) == ["baseline", "whatif"]
    assert compare_ds["headcount"].dims == ("run", "replicate", "time", "lab", "tier")
    assert compare_ds.sizes["replicate"] == 8 and compare_ds.sizes["lab"] == 10
    assert compare_ds["question_at_least"].dims == ("run", "question")
    assert compare_ds.attrs["file_type"] == "talentsim-compare"
    assert compare_ds.attrs["whatif_name"] == "whatif_openai_star_pay"
    for run in ("baseline", "whatif"):
        with xr.open_dataset(compare_file, group=run) as group:
            part = compare_ds.sel(run=run)
            for name in ("headcount", "flows", "question_value", "total_headcount_quantiles"):
                np.testing.assert_array_equal(part[name].values, group[name].values)
            assert list(part["lab"].values) == list(group["lab"].values)


def test_compare_joins_labs_a_whatif_adds(spinout_file, spinout_ds):
    with xr.open_dataset(spinout_file, group="baseline") as base:
        base_labs = list(base["lab"].values)
    assert list(spinout_ds["lab"].values) == base_labs + ["OpenAI Spinout"]
    assert spinout_ds.sizes["named"] == 6
    headcount = spinout_ds["headcount"].sel(lab="OpenAI Spinout")
    assert headcount.sel(run="baseline").isnull().all()
    assert headcount.sel(run="whatif").notnull().all()
    assert spinout_ds["headcount"].sel(run="baseline", lab=base_labs).notnull().all()



def test_compare_of_a_whatif_that_starts_earlier(earlier_file):
    # The what-if starts 2025-10-01, 3 months before the baseline: its first steps come
    # after the baseline's in the union, and must be sorted back.
    ds = ta.open_results(earlier_file)
    time = ds.indexes["time"]
    assert time.is_monotonic_increasing and time.is_unique
    assert time[0] == pd.Timestamp("2025-10-01")
    assert ds["headcount"].sel(run="baseline", time="2025-10-01").isnull().all()
    assert ds["headcount"].sel(run="whatif", time="2025-10-01").notnull().all()
    part = ds.sel(time=slice("2025-12-01", "2026-02-01"))
    assert part.sizes["time"] > 0 and part.indexes["time"].is_monotonic_increasing
    # Each run's own end is still its last step.
    assert not ta.end_headcount(ds).isnull().any()

@pytest.mark.parametrize("fixture, points, parameters, replicates, extra", [
    ("grid_ds", 6, 2, 4, {}), ("sobol_ds", 40, 3, 4, {"output": 11}),
    ("full_ds", 3, 1, 3, {"time": 53, "from_lab": 4, "to_lab": 4})])
def test_sweep_layout(request, fixture, points, parameters, replicates, extra):
    ds = request.getfixturevalue(fixture)
    assert dict(ds.sizes) == {"point": points, "parameter": parameters, "replicate": replicates,
                              "lab": 4, "tier": 3, "question": 7, "quantile": 5, **extra}
    assert ds["parameter_value"].dims == ("point", "parameter")
    assert list(ds["parameter"].values)[0] == "market.star_magnet"


def copy_with_root_attributes(source, copy, **changes):
    """`source` copied to `copy` with root attributes changed (None: deleted)."""
    shutil.copy(source, copy)
    with h5py.File(copy, "r+") as f:
        for name, value in changes.items():
            if value is None:
                del f.attrs[name]
            else:
                f.attrs[name] = value
    return copy


def test_future_format_version(run_file, tmp_path):
    copy = copy_with_root_attributes(run_file, tmp_path / "future.h5",
                                     file_format_version=np.int32(99))
    for load in (ta.file_type, ta.open_results):
        with pytest.raises(ta.FormatError) as error:
            load(copy)
        message = str(error.value)
        assert str(copy) in message and "99" in message and "version 1" in message
        assert "upgrade this package" in message


def test_not_hdf5(tmp_path):
    path = tmp_path / "notes.h5"
    path.write_text("not HDF5 at all\n")
    with pytest.raises(ta.FormatError, match="not a readable HDF5 file"):
        ta.open_results(path)


def test_truncated_file(run_file, tmp_path):
    path = tmp_path / "truncated.h5"
    path.write_bytes(run_file.read_bytes()[:20000])
    with pytest.raises(ta.FormatError, match="truncated.h5: not a readable HDF5 file"):
        ta.open_results(path)


def test_hdf5_without_talentsim_attributes(tmp_path):
    path = tmp_path / "foreign.h5"
    with h5py.File(path, "w") as f:
        f["x"] = np.arange(3)
    with pytest.raises(ta.FormatError, match="not a talentsim results file"):
        ta.file_type(path)


def test_unknown_file_type(run_file, tmp_path):
    copy = copy_with_root_attributes(run_file, tmp_path / "other.h5",
                                     file_type="talentsim-ensemble")
    with pytest.raises(ta.FormatError, match="'talentsim-ensemble'.*talentsim-run"):
        ta.open_results(copy)


def test_missing_format_version(run_file, tmp_path):
    copy = copy_with_root_attributes(run_file, tmp_path / "nover.h5", file_format_version=None)
    with pytest.raises(ta.FormatError) as error:
        ta.open_results(copy)
    message = str(error.value)
    assert "has no file_format_version attribute" in message and "None" not in message


def test_unreadable_file(run_file, tmp_path, monkeypatch):
    # Permission denied is said so, not taken for a file that is not HDF5.
    copy = tmp_path / "locked.h5"
    shutil.copy(run_file, copy)
    copy.chmod(0)
    if os.geteuid() != 0:  # root reads it anyway
        with pytest.raises(PermissionError, match="permission denied: cannot read .*locked.h5"):
            ta.open_results(copy)

    def denied(path, mode):
        raise PermissionError(13, "Unable to synchronously open file (Permission denied)")

    monkeypatch.setattr(io_module.h5py, "File", denied)
    with pytest.raises(PermissionError, match="permission denied: cannot read .*locked.h5") \
            as error:
        ta.file_type(copy)
    assert not isinstance(error.value, ta.FormatError) and error.value.filename == str(copy)
    assert "not a readable HDF5 file" not in str(error.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError):
        ta.open_results(tmp_path / "missing.h5")


def test_dataset_not_from_open_results(run_file):
    with xr.open_dataset(run_file) as ds:
        with pytest.raises(ValueError, match="open_results"):
            ta.tidy(ds)
