"""Tidy tables from real output, checked against the arrays and `talentsim summarize --json`."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import talentsim_analysis as ta
from talentsim_analysis.frames import paired_difference_interval, wilson_interval

REPO = Path(__file__).resolve().parents[2]

STEP_COLUMNS = ["replicate", "time", "lab", "tier", "headcount", "hires", "departures"]


def _assert_values(frame, ds, names, dims):
    """The frame's columns equal the arrays, flattened in the order of dims."""
    for column, name in names.items():
        np.testing.assert_array_equal(frame[column].values,
                                      ds[name].transpose(*dims).values.ravel())


def test_tidy_run(run_ds):
    frame = ta.tidy(run_ds)
    assert list(frame.columns) == STEP_COLUMNS
    assert len(frame) == 20 * 53 * 4 * 3
    assert frame["time"].dtype.kind == "M"
    assert frame["time"].iloc[0] == pd.Timestamp("2026-01-01")
    assert set(frame["lab"]) == {"LabA", "LabB", "Outside", "SpinOut"}
    _assert_values(frame, run_ds, {n: n for n in STEP_COLUMNS[4:]},
                   ["replicate", "time", "lab", "tier"])


def test_tidy_compare(compare_ds):
    frame = ta.tidy(compare_ds)
    assert list(frame.columns) == ["run", *STEP_COLUMNS]
    assert len(frame) == 2 * 8 * 157 * 10 * 3
    assert list(frame["run"].unique()) == ["baseline", "whatif"]
    _assert_values(frame, compare_ds, {n: n for n in STEP_COLUMNS[4:]},
                   ["run", "replicate", "time", "lab", "tier"])


def _assert_parameters(frame, ds):
    """The parameter columns hold each row's point's values."""
    for path in ds["parameter"].values:
        want = ds["parameter_value"].sel(parameter=path).values[frame["point"].values]
        np.testing.assert_array_equal(frame[path].values, want)


def test_tidy_sweep_summary(grid_ds):
    frame = ta.tidy(grid_ds)
    assert list(frame.columns) == ["point", "market.star_magnet", "market.switching_cost",
                                   "replicate", "lab", "tier", "headcount"]
    assert len(frame) == 6 * 4 * 4 * 3
    _assert_parameters(frame, grid_ds)
    _assert_values(frame, grid_ds, {"headcount": "headcount"},
                   ["point", "replicate", "lab", "tier"])


def test_tidy_sweep_full(full_ds):
    frame = ta.tidy(full_ds)
    assert list(frame.columns) == ["point", "market.star_magnet", *STEP_COLUMNS]
    assert len(frame) == 3 * 3 * 53 * 4 * 3
    _assert_parameters(frame, full_ds)
    _assert_values(frame, full_ds, {n: f"step_{n}" for n in STEP_COLUMNS[4:]},
                   ["point", "replicate", "time", "lab", "tier"])


QUESTION_STATS = ["probability", "low", "high", "mean", "p5", "p50", "p95", "pooled", "defined",
                  "n"]


def _json_questions(questions):
    """A report's questions as a DataFrame with the columns of questions_table."""
    frame = pd.DataFrame(questions)
    frame[["low", "high"]] = frame["interval"].tolist()
    return frame.fillna(value=np.nan)


def _assert_questions(table, questions):
    """questions_table rows equal the JSON report's questions to 1e-12."""
    want = _json_questions(questions)
    for column in ["id", "text", "metric", "lab"]:
        assert list(table[column]) == list(want[column])
    for column in ["at_least", "at_most", *QUESTION_STATS]:
        np.testing.assert_allclose(table[column].astype(float), want[column].astype(float),
                                   rtol=1e-12, atol=1e-12, err_msg=column)


def test_questions_table_run(run_ds, run_file, summarize):
    table = ta.questions_table(run_ds)
    assert list(table.columns) == ["id", "text", "metric", "lab", "at_least", "at_most",
                                   *QUESTION_STATS[:-1], "n"]
    _assert_questions(table, summarize(run_file)["run"]["questions"])


def test_questions_table_compare(compare_ds, compare_file, summarize):
    table = ta.questions_table(compare_ds)
    assert table.columns[0] == "run" and len(table) == 2 * 10
    report = summarize(compare_file)
    for run in ("baseline", "whatif"):
        rows = table[table["run"] == run].reset_index(drop=True)
        _assert_questions(rows, report[run]["questions"])


def test_compare_questions(compare_ds, compare_file, summarize):
    table = ta.compare_questions(compare_ds)
    want = pd.DataFrame(summarize(compare_file)["questions"])
    assert list(table["id"]) == list(want["id"]) and list(table["text"]) == list(want["text"])
    probability = pd.DataFrame(want["probability"].tolist())
    probability[["low", "high"]] = probability["interval"].tolist()
    for column in ["baseline", "whatif", "difference", "low", "high"]:
        np.testing.assert_allclose(table[column], probability[column], rtol=1e-12, atol=1e-12,
                                   err_msg=column)


def test_compare_questions_with_added_lab(spinout_ds, spinout_file, summarize):
    table = ta.compare_questions(spinout_ds)
    want = [q["probability"]["interval"] for q in summarize(spinout_file)["questions"]]
    np.testing.assert_allclose(table[["low", "high"]].values, want, rtol=1e-12, atol=1e-12)


def test_questions_table_sweep(sobol_ds, sobol_file, summarize):
    table = ta.questions_table(sobol_ds)
    parameters = list(sobol_ds["parameter"].values)
    assert list(table.columns) == ["point", *parameters, "id", "probability", "low", "high",
                                   "mean"]
    assert len(table) == 40 * 7
    report = summarize(sobol_file)
    want = pd.DataFrame([(p["point"], *p["values"], q, prob, *interval)
                         for p in report["results"]
                         for q, prob, interval in zip(report["questions"], p["probability"],
                                                      p["interval"])],
                        columns=["point", *parameters, "id", "probability", "low", "high"])
    pd.testing.assert_frame_equal(table[want.columns], want, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(table["mean"],
                                  sobol_ds["question_mean"].values.ravel())


def test_interval_edge_cases():
    # Every replicate agrees in both runs: phi is undefined (0) and the interval symmetric.
    low, high = paired_difference_interval(10, 0, 0, 0)
    assert low == pytest.approx(-high) and 0 < high < 1
    low, high = wilson_interval(np.array([0, 10]), 10)
    assert low[0] == 0 and high[1] == pytest.approx(1) and 0 < high[0] < 1 and 0 < low[1] < 1


def test_compare_questions_needs_comparison(run_ds, grid_ds):
    for ds in (run_ds, grid_ds):
        with pytest.raises(ValueError, match="compare_questions needs a compare file, not a"):
            ta.compare_questions(ds)


def test_questions_table_without_questions(run_ds, compare_ds):
    table = ta.questions_table(run_ds.isel(question=[]))
    assert table.empty and list(table.columns) == ["id", "text", "metric", "lab", "at_least",
                                                   "at_most", *QUESTION_STATS]
    assert ta.compare_questions(compare_ds.isel(question=[])).empty


def test_end_headcount_of_a_run(run_ds):
    end = ta.end_headcount(run_ds)
    assert end.dims == ("replicate", "lab")
    np.testing.assert_array_equal(end.values,
                                  run_ds["headcount"].isel(time=-1).sum("tier").values)


def test_paired_end_difference_of_a_longer_whatif(longer_file, summarize):
    # The what-if runs 6 months longer: its end is its own last step, not the baseline's.
    ds = ta.open_results(longer_file)
    end = ta.end_headcount(ds)
    assert end.dims == ("run", "replicate", "lab")
    assert not end.isnull().any()
    difference = ta.paired_end_difference(ds)
    assert list(difference.columns) == list(ds["lab"].values)
    assert len(difference) == 4
    labs = {row["lab"]: row["end_headcount"] for row in summarize(longer_file)["labs"]}
    for lab in ("OpenAI", "Outside"):
        assert difference[lab].mean() == pytest.approx(labs[lab]["difference"], abs=1e-9)
        assert end.sel(run="whatif", lab=lab).mean() == pytest.approx(labs[lab]["whatif"],
                                                                      abs=1e-9)
    # The old notebook cell took the common last step: NaN for the baseline, summed as 0.
    assert ds["headcount"].sel(run="baseline").isel(time=-1).isnull().all()


def test_paired_end_difference_of_an_added_lab(spinout_ds, spinout_file, summarize):
    difference = ta.paired_end_difference(spinout_ds)
    assert difference["OpenAI Spinout"].isnull().all()
    assert difference.drop(columns="OpenAI Spinout").notnull().all().all()
    assert ta.end_headcount(spinout_ds).sel(run="baseline", lab="OpenAI Spinout").isnull().all()
    labs = {row["lab"]: row["end_headcount"] for row in summarize(spinout_file)["labs"]}
    assert difference["OpenAI"].mean() == pytest.approx(labs["OpenAI"]["difference"], abs=1e-9)


def test_end_headcount_needs_a_run(grid_ds):
    with pytest.raises(ValueError, match="end_headcount needs a run or compare file"):
        ta.end_headcount(grid_ds)
    with pytest.raises(ValueError, match="paired_end_difference needs a compare file"):
        ta.paired_end_difference(grid_ds)


# Ratio questions (retention, flow_ratio, tenure) appended to every_key.yaml:
# the last one has no joins in any replicate, so its value is always NaN.
RATIO_QUESTIONS = """
  - {id: laba_retention, metric: retention, lab: LabA, window: [2026-01-01, 2026-03-31], after: 0.5, at_least: 0.8}
  - {id: laba_vs_labb, metric: flow_ratio, lab: LabA, from: [LabB], window: [2026-01-01, 2026-12-31], at_least: 2}
  - {id: labb_tenure, metric: tenure, lab: LabB, tiers: [star], window: [2026-12-31, 2026-12-31], at_most: 2}
  - {id: spinout_retention, metric: retention, lab: SpinOut, window: [2026-01-01, 2026-02-01], after: 0.5, at_least: 0.8}
"""


def test_questions_table_of_ratio_questions(talentsim, tmp_path, summarize):
    """NaN values and pooled ratios are summarised as ``talentsim summarize`` does."""
    scenario = tmp_path / "ratios.yaml"
    scenario.write_text((REPO / "tests/data/every_key.yaml").read_text() + RATIO_QUESTIONS)
    path = tmp_path / "ratios.h5"
    talentsim("run", scenario, "-r", 12, "--quiet", "-o", path)
    ds = ta.open_results(path)
    assert ds["question_numerator"].dims == ("replicate", "question")
    value = ds["question_value"].values
    ratio = ds["question_numerator"].values / ds["question_denominator"].values
    np.testing.assert_array_equal(np.isnan(value), np.isnan(ratio))
    table = ta.questions_table(ds)
    _assert_questions(table, summarize(path)["run"]["questions"])
    rows = table.set_index("id")
    assert rows.loc["spinout_retention", "defined"] == 0
    assert np.isnan(rows.loc["spinout_retention", "mean"])
    assert rows.loc["spinout_retention", "probability"] == 0
    assert np.isnan(rows.loc["labb_net", "pooled"])
    assert not np.isnan(rows.loc["labb_tenure", "pooled"])
    html = ta.write_report(path, tmp_path / "ratios.html").read_text(encoding="utf-8")
    assert "spinout_retention" in html and ">nan<" not in html
