"""A self-contained HTML report of a talentsim results file.

    from talentsim_analysis.report import write_report
    write_report("results/brief_2026.h5", "brief_2026.html")

or, from the command line, ``python3 -m talentsim_analysis report FILE``.
The report is one HTML file with inline CSS and every figure embedded as a
base64 PNG, so it can be mailed or archived alone. Its sections depend on
the kind of file:

- run: the scenario, the end-of-run headcount per lab, the forecast
  questions (probability with its Wilson 95% interval), fan charts of
  headcount and star-power share, and the flows between labs;
- comparison: the same for both runs, with the paired differences of the
  questions and of the end headcounts;
- sweep: the sweep and its design, the questions at the first points,
  response curves of each question against each parameter and, for a
  Sobol' design, the indices of every output.

Every text taken from the file is HTML-escaped.
"""

import base64
import html
import io
import os
import secrets
from pathlib import Path

import h5py
import numpy as np
import yaml
from matplotlib.figure import Figure
from PIL import Image

from .frames import Z95, compare_questions, end_headcount, questions_table
from .io import COMPARE_RUNS, _text, open_results
from .plots import plot_fan, plot_flows, plot_questions, plot_sobol, plot_sweep_response

# Resolution of the embedded figures: enough to read, small enough that a
# report stays well under a few MB.
DPI = 80
# Size in inches of one response-curve or Sobol' panel.
PANEL_SIZE = (6.0, 4.2)
# Rows of a sweep's per-point question table shown in the report.
SWEEP_TABLE_ROWS = 30

# The lab that stands for everyone outside the modelled labs (the scenarios name it so):
# the fan charts leave it out.
OUTSIDE_POOL = "Outside"

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.4; }
h1 { font-size: 1.6em; border-bottom: 2px solid #444; padding-bottom: .2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #bbb; }
table { border-collapse: collapse; margin: .8em 0; font-size: .9em; }
th, td { border: 1px solid #ccc; padding: .25em .6em; vertical-align: top; }
th { background: #f0f0f0; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.summary th { width: 12em; }
p.note { color: #555; font-size: .9em; }
figure { margin: 1em 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
div.tiles { display: flex; flex-wrap: wrap; gap: .5em; }
div.tiles figure { margin: 0; flex: 0 1 480px; }
pre { background: #f7f7f7; padding: .8em; overflow-x: auto; font-size: .85em; }
"""


def _esc(value):
    """``value`` as escaped HTML text."""
    return html.escape(_text(value))


def _number(value, digits=3):
    """A number for a table cell: ``digits`` decimals, or empty for NaN."""
    value = float(value)
    return "" if np.isnan(value) else f"{value:.{digits}f}"


def _general(value):
    """A value for a table cell in 3 significant digits; empty for NaN (a ratio
    with nothing to divide by in every replicate)."""
    value = float(value)
    return "" if np.isnan(value) else f"{value:.3g}"


def _signed(value, digits=3):
    """A difference for a table cell, always with its sign; empty for NaN."""
    value = float(value)
    return "" if np.isnan(value) else f"{value:+.{digits}f}"


def _interval(low, high, digits=3, signed=False):
    """``[low, high]`` with ``digits`` decimals (and a sign if ``signed``); empty for NaN."""
    low, high = float(low), float(high)
    if np.isnan(low) or np.isnan(high):
        return ""
    sign = "+" if signed else ""
    return f"[{low:{sign}.{digits}f}, {high:{sign}.{digits}f}]"


def _outcome(metric, at_least, at_most):
    """A question's outcome as text: "hires >= 8", "net_flow <= -3", "2 <= hires <= 3",
    or "hires: any value" for a question without bounds (as the C++ report says)."""
    if np.isnan(at_most) and np.isnan(at_least):
        return f"{metric}: any value"
    if np.isnan(at_most):
        return f"{metric} >= {at_least:g}"
    if np.isnan(at_least):
        return f"{metric} <= {at_most:g}"
    return f"{at_least:g} <= {metric} <= {at_most:g}"


def _table(header, rows, numeric=()):
    """An HTML table; ``rows`` are sequences of cell values (escaped here) and
    ``numeric`` the column indices to right-align."""
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{_esc(c)}</td>' if i in numeric else f"<td>{_esc(c)}</td>"
                         for i, c in enumerate(row)) + "</tr>\n"
        for row in rows)
    return f"<table><thead><tr>{head}</tr></thead>\n<tbody>\n{body}</tbody></table>\n"


def _summary_table(pairs):
    """A two-column table of (label, value) pairs, values escaped."""
    body = "".join(f"<tr><th>{_esc(k)}</th><td>{_esc(v)}</td></tr>\n" for k, v in pairs)
    return f'<table class="summary"><tbody>\n{body}</tbody></table>\n'


def _png(fig):
    """A Figure as PNG bytes at DPI, reduced to a 256-colour palette: a third of the
    size of matplotlib's RGBA output, with no visible loss on plots."""
    rendered = io.BytesIO()
    fig.savefig(rendered, format="png", dpi=DPI)
    palette = Image.open(rendered).convert("RGB").quantize(256, method=Image.Quantize.MEDIANCUT)
    buffer = io.BytesIO()
    palette.save(buffer, format="png", optimize=True)
    return buffer.getvalue()


def _figure(fig, caption):
    """A matplotlib Figure as an HTML figure with an embedded base64 PNG."""
    data = base64.b64encode(_png(fig)).decode("ascii")
    return (f'<figure><img alt="{_esc(caption)}" src="data:image/png;base64,{data}">'
            f"<figcaption>{_esc(caption)}</figcaption></figure>\n")


def _panel(draw, *args):
    """A Figure of one PANEL_SIZE Axes drawn by ``draw(*args, ax=axes)``."""
    axes = Figure(figsize=PANEL_SIZE, layout="constrained").subplots()
    return draw(*args, ax=axes)


def _section(title, *parts):
    """An h2 section of already-rendered HTML parts."""
    return f"<h2>{_esc(title)}</h2>\n" + "".join(parts)


def _note(text):
    """A small explanatory paragraph (escaped)."""
    return f'<p class="note">{_esc(text)}</p>\n'


def _scenario(text):
    """The mapping of a scenario's YAML text, or {} if it does not parse here."""
    try:
        parsed = yaml.safe_load(text)
    except yaml.YAMLError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _period(scenario, start, steps, step_days):
    """The simulated period as text, from the scenario's dates when it has them."""
    end = f" to {scenario['end']} (exclusive)" if "end" in scenario else ""
    return f"{start}{end}: {steps} steps of {step_days} days"


def _provenance(attrs):
    """(label, value) pairs of the provenance attributes present in ``attrs``."""
    labels = (("created", "created (UTC)"), ("software_version", "talentsim version"),
              ("git_commit", "git commit"), ("command_line", "command line"))
    return [(label, _text(attrs[key])) for key, label in labels if key in attrs]


def _scenario_text(title, text):
    """A collapsed block with a scenario or sweep file as run."""
    return f"<details><summary>{_esc(title)}</summary><pre>{_esc(text)}</pre></details>\n"


def _group_attrs(path, group):
    """The attributes of one group of an HDF5 file, strings decoded, with "steps": the
    length of its time dimension."""
    with h5py.File(path, "r") as f:
        attrs = {k: (_text(v) if isinstance(v, bytes) else v) for k, v in f[group].attrs.items()}
        attrs["steps"] = f[group]["time"].shape[0]
    return attrs


# ---------------------------------------------------------------- runs


def _run_summary(ds, path):
    """The summary section of a run file."""
    scenario = _scenario(_text(ds.attrs.get("scenario", "")))
    pairs = [("file", str(path)), ("kind", "run"),
             ("scenario", _text(ds.attrs["scenario_name"]))]
    if "description" in scenario:
        pairs.append(("description", _text(scenario["description"])))
    pairs += [("replicates", _text(ds.attrs["replicates"])), ("seed", _text(ds.attrs["seed"])),
              ("period", _period(scenario, _text(ds.attrs["start_date"]), ds.sizes["time"],
                                 _text(ds.attrs["step_days"]))),
              ("labs", ", ".join(_text(lab) for lab in ds["lab"].values))]
    pairs += _provenance(ds.attrs)
    return _section("Scenario", _summary_table(pairs),
                    _scenario_text("Scenario file as run", _text(ds.attrs.get("scenario", ""))))


def _run_headcount(ds):
    """The end-of-run headcount table of a run."""
    end = ds["headcount"].isel(time=-1).sum("tier")
    mean, quantiles = end.mean("replicate"), end.quantile([0.05, 0.95], "replicate")
    rows = [(lab, _number(mean.sel(lab=lab), 1),
             "{:.0f} - {:.0f}".format(*quantiles.sel(lab=lab).values))
            for lab in ds["lab"].values]
    return _section(
        "Headcount at the end",
        _table(["lab", "mean", "5%-95%"], rows, numeric=(1, 2)),
        _note(f"Researchers at each lab over all tiers at the end of the run: mean and "
              f"5th-95th percentile over {ds.sizes['replicate']} replicates."))


def _question_rows(table):
    """Rows of the questions table of one run's questions_table."""
    return [(q.id, _text(q.text), _outcome(q.metric, q.at_least, q.at_most),
             _number(q.probability), _interval(q.low, q.high), _general(q.mean),
             _general(q.p5), _general(q.p50), _general(q.p95)) for q in table.itertuples()]


def _run_questions(ds):
    """The forecast-questions section of a run."""
    table = questions_table(ds)
    if table.empty:
        return _section("Forecast questions", _note("The scenario asks no forecast questions."))
    header = ["id", "question", "outcome", "P", "95% interval", "mean", "5%", "median", "95%"]
    return _section(
        "Forecast questions",
        _table(header, _question_rows(table), numeric=(3, 4, 5, 6, 7, 8)),
        _note(f"P: share of the {ds.sizes['replicate']} replicates with the outcome, with its "
              "Wilson 95% interval; mean and percentiles of the question's value."),
        _figure(plot_questions(ds), "Probability of each question's outcome, with its Wilson "
                                    "95% interval"))


def _fan_labs(ds):
    """The labs the fan charts draw: all but the outside pool (OUTSIDE_POOL), which is
    much larger than any lab and would flatten them; all labs if that leaves none."""
    labs = [str(lab) for lab in ds["lab"].values if str(lab) != OUTSIDE_POOL]
    return labs if labs and len(labs) < ds.sizes["lab"] else None


def _fans_and_flows(ds):
    """The fan-chart and flows sections of a run or comparison."""
    labs = _fan_labs(ds)
    left_out = (f" (the outside pool, lab {OUTSIDE_POOL!r}, is left out)" if labs else "")
    fans = _section(
        "Fan charts",
        _note("Each lab's median over time (line) with the 25-75% (dark) and 5-95% (light) "
              "bands across replicates" + (f"; the outside pool (lab {OUTSIDE_POOL!r}) is much "
                                           "larger than any lab and is left out, so that the "
                                           "labs stay readable." if labs else ".")),
        _figure(plot_fan(ds, "headcount", labs=labs), "Headcount over all tiers" + left_out),
        _figure(plot_fan(ds, "share", labs=labs), "Share of all star power" + left_out))
    flows = _section(
        "Flows between labs",
        _note("Mean number of researchers who moved from each lab (rows) to each other lab "
              "(columns) over the whole run, all tiers."),
        _figure(plot_flows(ds), "Moves between labs per replicate"))
    return fans + flows


def _run_report(ds, path):
    """The body of a run report."""
    return (_run_summary(ds, path) + _run_headcount(ds) + _run_questions(ds) +
            _fans_and_flows(ds))


# ---------------------------------------------------------------- comparisons


def _compare_summary(ds, path):
    """The summary section of a comparison file."""
    groups = {run: _group_attrs(path, run) for run in COMPARE_RUNS}
    scenarios = {run: _scenario(groups[run].get("scenario", "")) for run in COMPARE_RUNS}
    pairs = [("file", str(path)), ("kind", "comparison (baseline and what-if, paired)"),
             ("baseline", _text(ds.attrs["baseline_name"])),
             ("what-if", _text(ds.attrs["whatif_name"]))]
    for run, label in zip(COMPARE_RUNS, ("baseline", "what-if")):
        if "description" in scenarios[run]:
            pairs.append((f"{label}: description", _text(scenarios[run]["description"])))
    pairs += [("replicates", _text(ds.attrs["replicates"])), ("seed", _text(ds.attrs["seed"]))]
    periods = {run: _period(scenarios[run], groups[run]["start_date"], groups[run]["steps"],
                            groups[run]["step_days"]) for run in COMPARE_RUNS}
    if periods["baseline"] == periods["whatif"]:
        pairs.append(("period", periods["baseline"]))
    else:
        pairs += [("period: baseline", periods["baseline"]), ("period: what-if", periods["whatif"])]
    pairs.append(("labs", ", ".join(_text(lab) for lab in ds["lab"].values)))
    pairs += _provenance(ds.attrs)
    return _section(
        "Scenarios", _summary_table(pairs),
        _note("Both runs use the same seed and random streams keyed by researcher, so "
              "replicate r of the what-if is replicate r of the baseline with the what-if's "
              "changes: differences are paired."),
        *(_scenario_text(f"{label} scenario file as run", groups[run].get("scenario", ""))
          for run, label in zip(COMPARE_RUNS, ("Baseline", "What-if"))))


def _compare_headcount(ds):
    """The paired end-of-run headcount table of a comparison."""
    # Each run's own last step, (replicate, lab); NaN for a lab the run does not have.
    end = end_headcount(ds)
    base, whatif = (end.sel(run=run) for run in COMPARE_RUNS)
    diff = whatif - base
    # skipna=False: a lab that only one run has gets NaN, not a warning.
    half = Z95 * diff.std("replicate", ddof=1, skipna=False) / np.sqrt(ds.sizes["replicate"])
    rows = []
    for lab in ds["lab"].values:
        d, h = float(diff.mean("replicate").sel(lab=lab)), float(half.sel(lab=lab))
        rows.append((lab, _number(base.mean("replicate").sel(lab=lab), 1),
                     _number(whatif.mean("replicate").sel(lab=lab), 1), _signed(d, 1),
                     _interval(d - h, d + h, 1, signed=True)))
    return _section(
        "Headcount at the end",
        _table(["lab", "end: baseline", "end: what-if", "difference", "paired 95%"], rows,
               numeric=(1, 2, 3, 4)),
        _note("Mean headcount over all tiers at the end of each run; difference = what-if - "
              "baseline, with mean +- 1.96 standard errors of the paired differences (empty "
              "where a lab exists in one run only)."))


def _compare_questions(ds):
    """The question-deltas section of a comparison."""
    deltas = compare_questions(ds)
    if deltas.empty:
        return _section("Forecast questions",
                        _note("The two scenarios ask no forecast question in common."))
    runs = questions_table(ds).set_index(["run", "id"])
    rows = []
    for q in deltas.itertuples():
        base, whatif = runs.loc[("baseline", q.id)], runs.loc[("whatif", q.id)]
        rows.append((q.id, _text(q.text), _outcome(base.metric, base.at_least, base.at_most),
                     _number(q.baseline), _interval(base.low, base.high), _number(q.whatif),
                     _interval(whatif.low, whatif.high), _signed(q.difference),
                     _interval(q.low, q.high, signed=True)))
    header = ["id", "question", "outcome", "P baseline", "95%", "P what-if", "95%",
              "difference", "paired 95%"]
    return _section(
        "Forecast questions",
        _table(header, rows, numeric=(3, 4, 5, 6, 7, 8)),
        _note("P: share of replicates with the outcome, with its Wilson 95% interval; "
              "difference = what-if - baseline, with its paired 95% interval (Newcombe's "
              "method for paired proportions). Questions only one scenario asks are left out."),
        _figure(plot_questions(ds), "Probability of each question's outcome in both runs"))


def _compare_report(ds, path):
    """The body of a comparison report."""
    return (_compare_summary(ds, path) + _compare_headcount(ds) + _compare_questions(ds) +
            _fans_and_flows(ds))


# ---------------------------------------------------------------- sweeps


def _sweep_summary(ds, path):
    """The summary section of a sweep file."""
    a = ds.attrs
    scenario = _scenario(_text(a.get("scenario", "")))
    design = _text(a["design"])
    if "base_samples" in a:
        design += f" ({_text(a['base_samples'])} base samples)"
    pairs = [("file", str(path)), ("kind", "parameter sweep"), ("sweep", _text(a["name"])),
             ("base scenario", _text(a["scenario_name"])), ("design", design),
             ("points", _text(a["points"])), ("replicates per point", _text(a["replicates"])),
             ("seed", _text(a["seed"])),
             ("period", _period(scenario, _text(a["start_date"]), _text(a["steps"]),
                                _text(a["step_days"]))),
             ("labs", ", ".join(_text(lab) for lab in ds["lab"].values))]
    if "bootstrap_resamples" in a:
        pairs.append(("bootstrap resamples", _text(a["bootstrap_resamples"])))
    pairs += _provenance(a)
    return _section("Sweep", _summary_table(pairs),
                    _scenario_text("Sweep file as run", _text(a.get("sweep", ""))),
                    _scenario_text("Base scenario file", _text(a.get("scenario", ""))))


def _sweep_design(ds):
    """The parameters section of a sweep: path, scale, range and distinct values."""
    rows = []
    for name in ds["parameter"].values:
        values = ds["parameter_value"].sel(parameter=name).values
        rows.append((name, _text(ds["parameter_scale"].sel(parameter=name).item()),
                     f"{values.min():g}", f"{values.max():g}", len(np.unique(values))))
    return _section(
        "Parameters",
        _table(["parameter", "scale", "min", "max", "distinct values"], rows,
               numeric=(2, 3, 4)),
        _note(f"Every point runs the base scenario with these values set, on the same "
              f"{_text(ds.attrs['replicates'])} replicate streams (common random numbers)."))


def _sweep_questions(ds):
    """The first rows of the per-point question table of a sweep."""
    table = questions_table(ds)
    if table.empty:
        return _section("Forecast questions at each point",
                        _note("The base scenario asks no forecast questions."))
    parameters = [str(p) for p in ds["parameter"].values]
    shown = table.head(SWEEP_TABLE_ROWS)
    rows = [(row["point"], *(f"{row[p]:g}" for p in parameters), row["id"],
             _number(row["probability"]), _interval(row["low"], row["high"]),
             f"{row['mean']:.3g}") for _, row in shown.iterrows()]
    header = ["point", *parameters, "question", "P", "95% interval", "mean"]
    numeric = [i for i, name in enumerate(header) if name != "question"]
    return _section(
        "Forecast questions at each point",
        _table(header, rows, numeric=numeric),
        _note(f"The first {len(shown)} of {len(table)} rows (points x questions): P is the share "
              "of the point's replicates with the outcome, with its Wilson 95% interval. The "
              "whole table: talentsim_analysis.questions_table(ds)."))


def _response(ds, parameter, output):
    """A response-curve panel, titled by output and parameter only (the design and
    size are in the section's note) so that the title fits the panel."""
    fig = _panel(plot_sweep_response, ds, parameter, output)
    fig.axes[0].set_title(f"{output}\nagainst {parameter}", fontsize="medium")
    return fig


def _sweep_responses(ds):
    """Response curves of each question (or each lab's headcount) against each parameter."""
    outputs = [str(q) for q in ds["question"].values]
    what = "each question's probability, with its Wilson 95% interval,"
    if not outputs:
        outputs = [f"headcount[{lab}]" for lab in ds["lab"].values]
        what = "each lab's mean end headcount, with its 5-95% range,"
    tiles = "".join(_figure(_response(ds, str(p), output), f"{output} against {p}")
                    for output in outputs for p in ds["parameter"].values)
    return _section(
        "Response curves",
        _note(f"How {what} changes with each parameter ({_text(ds.attrs['design'])} design, "
              f"{ds.sizes['point']} points x {ds.sizes['replicate']} replicates). A grid of one "
              "or two parameters draws one line per level of the other; other designs draw "
              "every point and the mean of bins of the parameter's range (the other parameters "
              "vary too, so the spread around the binned mean is partly theirs)."),
        f'<div class="tiles">{tiles}</div>\n')


def _sweep_sobol(ds):
    """Sobol' index bars of every output of a Sobol' sweep."""
    tiles = "".join(_figure(_panel(plot_sobol, ds, str(output)), f"Sobol' indices of {output}")
                    for output in ds["output"].values)
    return _section(
        "Sobol' sensitivity indices",
        _note("First order: the share of an output's variance across points due to the "
              "parameter alone; total: including its interactions with the others. Bars show "
              "bootstrap 95% intervals; Monte Carlo noise (replicate sampling error) inflates "
              "the total indices."),
        f'<div class="tiles">{tiles}</div>\n')


def _sweep_report(ds, path):
    """The body of a sweep report."""
    body = (_sweep_summary(ds, path) + _sweep_design(ds) + _sweep_questions(ds) +
            _sweep_responses(ds))
    return body + _sweep_sobol(ds) if "sobol_first" in ds else body


# ---------------------------------------------------------------- the file

_TITLES = {
    "run": lambda a: f"talentsim run: {_text(a['scenario_name'])}",
    "compare": lambda a: (f"talentsim comparison: {_text(a['baseline_name'])} vs "
                          f"{_text(a['whatif_name'])}"),
    "sweep": lambda a: f"talentsim sweep: {_text(a['name'])}",
}
_BODIES = {"run": _run_report, "compare": _compare_report, "sweep": _sweep_report}


def render_report(results_path):
    """The HTML text of the report of the results file at ``results_path``.

    Raises FileNotFoundError for a missing file and FormatError for a file
    that is not a talentsim results file (see open_results).
    """
    path = Path(results_path)
    ds = open_results(path)
    kind = ds.attrs["talentsim_kind"]
    title = _TITLES[kind](ds.attrs)
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{_esc(title)}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
            f"<h1>{_esc(title)}</h1>\n{_BODIES[kind](ds, path)}</body>\n</html>\n")


def default_report_path(results_path):
    """Where a report goes by default: beside the results file, suffix .html."""
    return Path(results_path).with_suffix(".html")


def write_report(results_path, html_path=None):
    """Write the report of ``results_path`` to ``html_path`` and return its Path.

    ``html_path`` defaults to the results file with suffix .html. The whole
    report is rendered first, then written to a temporary file in the
    destination's folder and renamed over the destination, so a failure
    never leaves a partial report. Raises FileNotFoundError, FormatError
    (see render_report), ValueError when the destination is the results file
    itself, or OSError when the destination cannot be written.
    """
    destination = Path(html_path) if html_path is not None else default_report_path(results_path)
    if destination.resolve() == Path(results_path).resolve():
        raise ValueError(f"{destination}: the report would replace the results file; "
                         "choose another output")
    text = render_report(results_path)
    temporary = destination.with_name(f".{destination.name}.{secrets.token_hex(4)}.tmp")
    try:
        # os.open applies the umask to 0o666, as open() does for a new file.
        with os.fdopen(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666), "w",
                       encoding="utf-8") as f:
            f.write(text)
        os.replace(temporary, destination)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    return destination
