"""Tidy tables from talentsim Datasets (see io.open_results).

The forecast-question statistics are those of ``talentsim summarize``: the
Wilson 95% score interval for a probability and Newcombe's method 10 for the
difference of two paired probabilities, ported from sim/src/run/report.cpp.
"""

import warnings

import numpy as np
import pandas as pd
import xarray as xr

from .io import COMPARE_RUNS, require_kind

# The standard normal 97.5th percentile, as kZ95 in the C++ report.
Z95 = 1.959963984540054

# Per-step variables of a run, and their names in a sweep with `output: full`.
STEP_VARIABLES = ("headcount", "hires", "departures")
SWEEP_STEP_VARIABLES = {f"step_{name}": name for name in STEP_VARIABLES}

QUESTION_COLUMNS = ["id", "text", "metric", "lab", "at_least", "at_most", "probability", "low",
                    "high", "mean", "p5", "p50", "p95", "pooled", "defined", "n"]

# Metrics whose value is a ratio numerator / denominator (question_numerator,
# question_denominator), estimated over replicates by pooling them.
RATIO_METRICS = ("retention", "flow_ratio", "tenure")


def wilson_interval(successes, n, z=Z95):
    """The Wilson score interval (low, high) of ``successes`` out of ``n`` > 0
    trials (arrays broadcast), as wilson_interval in report.cpp."""
    n = np.asarray(n, float)
    p = np.asarray(successes, float) / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * np.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    return np.maximum(0.0, centre - half), np.minimum(1.0, centre + half)


def paired_difference_interval(both, first_only, second_only, neither, z=Z95):
    """Newcombe's method 10 interval (low, high) for P(first) - P(second), paired.

    Arguments are the counts of the 2x2 table of paired outcomes (arrays
    broadcast; their sum > 0): the Wilson intervals of the two margins
    combined with the phi correlation of the outcomes (0 when a margin is
    empty), as paired_difference_interval in report.cpp.
    """
    a, b, c, d = (np.asarray(x, float) for x in (both, first_only, second_only, neither))
    n = a + b + c + d
    p1, p2 = (a + b) / n, (a + c) / n
    low1, high1 = wilson_interval(a + b, n, z)
    low2, high2 = wilson_interval(a + c, n, z)
    denominator = (a + b) * (c + d) * (a + c) * (b + d)
    with np.errstate(divide="ignore", invalid="ignore"):
        phi = np.where(denominator > 0, (a * d - b * c) / np.sqrt(denominator), 0.0)
    dl1, du1, dl2, du2 = p1 - low1, high1 - p1, p2 - low2, high2 - p2
    lower = (p1 - p2) - np.sqrt(np.maximum(0.0, dl1 * dl1 - 2 * phi * dl1 * du2 + du2 * du2))
    upper = (p1 - p2) + np.sqrt(np.maximum(0.0, du1 * du1 - 2 * phi * du1 * dl2 + dl2 * dl2))
    return np.maximum(-1.0, lower), np.minimum(1.0, upper)


def _parameter_columns(ds, frame):
    """``frame`` (with a "point" column) with the sweep's parameter values joined
    in as columns named by path, right after "point"."""
    params = ds["parameter_value"].to_pandas()
    params.columns = list(params.columns)
    frame = frame.join(params, on="point")
    rest = [c for c in frame.columns if c != "point" and c not in params.columns]
    return frame[["point", *params.columns, *rest]]


def _to_frame(variables, dims):
    """A Dataset of variables over ``dims`` as a flat DataFrame: one column per
    dimension, then one per variable, one row per combination of labels."""
    return variables.reset_coords(drop=True).to_dataframe(dim_order=dims).reset_index()


def tidy(ds):
    """The headcount, hires and departures arrays as one long DataFrame.

    Run: one row per replicate x time x lab x tier, columns replicate, time,
    lab, tier, headcount, hires, departures; a comparison adds a leading
    column run. Sweep: one row per point x replicate (x time) x lab x tier
    with columns point and one per parameter path first; with `output: full`
    the per-step arrays, otherwise only the end-of-run headcount.
    """
    kind = require_kind(ds, ("run", "compare", "sweep"), "tidy")
    if kind != "sweep":
        dims = ["replicate", "time", "lab", "tier"]
        return _to_frame(ds[list(STEP_VARIABLES)], ["run", *dims] if kind == "compare" else dims)
    if "step_headcount" in ds:
        frame = _to_frame(ds[list(SWEEP_STEP_VARIABLES)].rename(SWEEP_STEP_VARIABLES),
                          ["point", "replicate", "time", "lab", "tier"])
    else:
        frame = _to_frame(ds[["headcount"]], ["point", "replicate", "lab", "tier"])
    return _parameter_columns(ds, frame)


def _outcomes(ds):
    """Whether each question's outcome happened, (..., question): at_least <= value
    <= at_most, a NaN bound being no bound."""
    value = ds["question_value"]
    low, high = ds["question_at_least"], ds["question_at_most"]
    return (low.isnull() | (value >= low)) & (high.isnull() | (value <= high))


def _pooled(run, value):
    """Each question's pooled ratio, sum of numerators / sum of denominators over the
    replicates (+inf for a positive numerator over 0), for the ratio metrics; NaN
    for the others. A file from before question_numerator existed holds no ratios."""
    if "question_numerator" in run:
        numerator = run["question_numerator"].transpose("question", "replicate").values.sum(axis=1)
        denominator = (run["question_denominator"].transpose("question", "replicate")
                       .values.sum(axis=1))
    else:
        numerator, denominator = value.sum(axis=1), np.full(value.shape[0], value.shape[1])
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(denominator > 0, numerator / np.where(denominator > 0, denominator, 1),
                         np.where(numerator > 0, np.inf, np.nan))
    return np.where(np.isin(run["question_metric"].values, RATIO_METRICS), ratio, np.nan)


def _run_questions(run):
    """One run's question table (see questions_table)."""
    run = run.sel(question=run["question_metric"].notnull())
    value = run["question_value"].transpose("question", "replicate").values
    n = run.sizes["replicate"]
    yes = _outcomes(run).sum("replicate")
    low, high = wilson_interval(yes.values, n)
    # A ratio with nothing to divide by is NaN (or inf): the statistics of the
    # value are over the replicates where it is finite, as in the C++ report.
    finite = np.where(np.isfinite(value), value, np.nan)
    defined = np.isfinite(value).sum(axis=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a question with no finite value
        mean = np.nanmean(finite, axis=1) if value.size else np.full(value.shape[0], np.nan)
        quantiles = (np.nanquantile(finite, [0.05, 0.5, 0.95], axis=1) if value.size
                     else np.full((3, value.shape[0]), np.nan))
    return pd.DataFrame({
        "id": run["question"].values, "text": run["question_text"].values,
        "metric": run["question_metric"].values, "lab": run["question_lab"].values,
        "at_least": run["question_at_least"].values, "at_most": run["question_at_most"].values,
        "probability": yes.values / n, "low": low, "high": high,
        "mean": mean, "p5": quantiles[0], "p50": quantiles[1], "p95": quantiles[2],
        "pooled": _pooled(run, value), "defined": defined, "n": n}, columns=QUESTION_COLUMNS)


def _sweep_questions(ds):
    """A sweep's stored per-point question summaries (see questions_table)."""
    stored = {f"question_{name}": name for name in ("probability", "low", "high", "mean")}
    frame = _to_frame(ds[list(stored)].rename(stored), ["point", "question"])
    return _parameter_columns(ds, frame.rename(columns={"question": "id"}))


def questions_table(ds):
    """The forecast questions' probabilities and value statistics as a DataFrame.

    Run: one row per question with id, text, metric, lab, at_least, at_most,
    probability (share of replicates with the outcome; a NaN value has none),
    low and high (Wilson 95% interval), mean, p5, p50, p95 of the value over
    the ``defined`` replicates where it is finite, pooled (for the ratio
    metrics retention, flow_ratio and tenure: sum of question_numerator over
    sum of question_denominator over replicates; NaN otherwise), defined and
    n (replicates), as ``talentsim summarize`` reports them. Comparison: the same for each run,
    with a leading column run. Sweep: the stored per-point summaries, one row
    per point x question: point, the parameter values by path, id,
    probability, low, high, mean.
    """
    kind = require_kind(ds, ("run", "compare", "sweep"), "questions_table")
    if kind == "run":
        return _run_questions(ds)
    if kind == "sweep":
        return _sweep_questions(ds)
    tables = [_run_questions(ds.sel(run=run)).assign(run=run) for run in COMPARE_RUNS]
    frame = pd.concat(tables, ignore_index=True)
    return frame[["run", *QUESTION_COLUMNS]]


def compare_questions(ds):
    """The paired difference of each question's probability in a comparison.

    One row per question both runs ask, in the baseline's order: id, text,
    baseline, whatif (probabilities), difference (what-if - baseline) and
    low, high: the paired 95% interval of the difference by Newcombe's
    method 10, as ``talentsim compare`` reports it.
    """
    require_kind(ds, ("compare",), "compare_questions")
    ds = ds.sel(question=ds["question_metric"].notnull().all("run"))
    outcome = _outcomes(ds)
    base, whatif = outcome.sel(run="baseline"), outcome.sel(run="whatif")
    counts = [(x & y).sum("replicate").values for x, y in
              ((whatif, base), (whatif, ~base), (~whatif, base), (~whatif, ~base))]
    n = ds.sizes["replicate"]
    p_base, p_whatif = base.sum("replicate").values / n, whatif.sum("replicate").values / n
    low, high = paired_difference_interval(*counts)
    return pd.DataFrame({
        "id": ds["question"].values, "text": ds["question_text"].sel(run="baseline").values,
        "baseline": p_base, "whatif": p_whatif, "difference": p_whatif - p_base,
        "low": low, "high": high})


def end_headcount(ds):
    """Each run's end-of-run headcount over all tiers.

    Run: (replicate, lab); comparison: (run, replicate, lab). Each run's own
    last step is used (a what-if may run longer or start earlier: the other
    run's steps are NaN there), and a lab a run does not have is NaN, not 0.
    """
    kind = require_kind(ds, ("run", "compare"), "end_headcount")
    if kind == "run":
        return ds["headcount"].sum("tier", min_count=1).isel(time=-1).reset_coords(drop=True)
    ends = [ds["headcount"].sel(run=run).sum("tier", min_count=1).dropna("time", how="all")
            .isel(time=-1).reset_coords(drop=True) for run in COMPARE_RUNS]
    return xr.concat(ends, dim=pd.Index(list(COMPARE_RUNS), name="run"))


def paired_end_difference(ds):
    """The paired difference what-if - baseline of each replicate's end-of-run
    headcount (see end_headcount) in a comparison, as a DataFrame: one row per
    replicate, one column per lab; NaN for a lab only one run has."""
    require_kind(ds, ("compare",), "paired_end_difference")
    end = end_headcount(ds)
    return (end.sel(run="whatif", drop=True) - end.sel(run="baseline", drop=True)).to_pandas()
