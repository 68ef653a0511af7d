"""Figures of talentsim Datasets (see io.open_results).

Every function returns a matplotlib Figure. Without ``ax`` it makes a new
Figure that is not registered with pyplot (so none piles up in pyplot's
state): with the inline backend (``%matplotlib inline``) a notebook displays
it when a cell returns it, and ``fig.savefig(...)`` writes it. With ``ax`` it
draws into that Axes and returns ``ax.figure``.
"""

import matplotlib
import matplotlib.dates as mdates
import matplotlib.ticker as mticker
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .frames import questions_table
from .io import COMPARE_RUNS, require_kind

# plot_fan's variables: the stored quantiles and the y-axis label.
FAN_VARIABLES = {
    "headcount": ("total_headcount_quantiles", "headcount over all tiers (researchers)"),
    "share": ("share_quantiles", "share of all star power (fraction)"),
}
RUN_LABELS = {"baseline": "baseline", "whatif": "what-if"}
SOBOL_INDICES = {"sobol_first": "first order", "sobol_total": "total"}


def _choose(name, available, what):
    """``name`` if it is one of ``available``, else ValueError listing them."""
    available = [str(a) for a in available]
    if name not in available:
        raise ValueError(f"unknown {what} {name!r}; valid: {', '.join(available)}")
    return name


def _axes(ax, count=1, size=(6.4, 4.8), sharey=False):
    """``[ax]`` if given, else ``count`` side-by-side Axes of a new Figure, each
    ``size`` (width, height) inches."""
    if ax is not None:
        return [ax]
    figure = Figure(figsize=(size[0] * count, size[1]), layout="constrained")
    return list(np.atleast_1d(figure.subplots(1, count, sharey=sharey)))


def _error_bars(value, low, high):
    """Asymmetric error-bar lengths (2, n) of an interval [low, high] around value."""
    value, low, high = (np.asarray(a, float) for a in (value, low, high))
    return np.clip([value - low, high - value], 0.0, None)


def _panels(ds, run, ax, what, **layout):
    """The (title, Dataset, Axes) triples to draw for a run or comparison.

    A run file gives one panel; a comparison the run named by ``run``, or
    with run None both runs side by side (then ``ax`` must be None).
    ``layout`` (size, sharey) goes to _axes.
    """
    kind = require_kind(ds, ("run", "compare"), what)
    if kind == "run":
        if run is not None:
            raise ValueError(f"{what}: run= selects a run of a comparison file; this is a run file")
        return [(ds.attrs["scenario_name"], ds, _axes(ax, **layout)[0])]
    runs = COMPARE_RUNS if run is None else [_choose(run, COMPARE_RUNS, "run")]
    if ax is not None and len(runs) > 1:
        raise ValueError(f"{what}: a comparison needs two axes; pass run='baseline' or "
                         "run='whatif' to draw one of its runs into ax")
    axes = _axes(ax, len(runs), **layout)
    return [(f"{RUN_LABELS[r]} {ds.attrs[f'{r}_name']}", ds.sel(run=r), a)
            for r, a in zip(runs, axes)]


def lab_styles(labs):
    """{lab: (colour, line style)} keyed to each lab's position in ``labs``
    (``ds["lab"]``), so a lab has the same colour in every panel and figure of a
    file, whichever labs a panel draws.

    The 10 tab20 dark colours come first with solid lines, then their 10 light
    variants with dashed lines; past 20 labs the colours repeat with other line
    styles (distinct up to 100 labs).
    """
    colours = matplotlib.colormaps["tab20"].colors
    order = [*range(0, 20, 2), *range(1, 20, 2)]
    styles = ("-", "--", "-.", ":", (0, (5, 1, 1, 1, 1, 1)))
    return {str(lab): (colours[order[i % 20]], styles[(i // 10) % len(styles)])
            for i, lab in enumerate(np.asarray(labs))}


def _fan(axes, quantiles, styles):
    """Median line and 25-75%, 5-95% bands of each lab of quantiles (quantile, time, lab),
    coloured by ``styles`` (see lab_styles)."""
    time = quantiles["time"].values
    for lab in quantiles["lab"].values:
        q = quantiles.sel(lab=lab)
        colour, style = styles[str(lab)]
        axes.plot(time, q.sel(quantile=0.5), label=lab, color=colour, linestyle=style)
        for low, high, alpha in ((0.05, 0.95, 0.15), (0.25, 0.75, 0.3)):
            axes.fill_between(time, q.sel(quantile=low), q.sel(quantile=high),
                              color=colour, alpha=alpha, linewidth=0)
    axes.xaxis.set_major_formatter(mdates.ConciseDateFormatter(axes.xaxis.get_major_locator()))


def plot_fan(ds, variable="headcount", labs=None, ax=None, run=None):
    """Fan chart over time of each lab's headcount (or share of star power).

    Drawn from the stored percentiles (total_headcount_quantiles or
    share_quantiles): the median line with 25-75% and 5-95% bands. ``labs``
    (default all) picks labs; for a comparison ``run`` picks "baseline" or
    "whatif", by default both in two side-by-side axes. Each lab has the
    colour of its position in ``ds.lab`` (see lab_styles) in every panel.
    """
    name, ylabel = FAN_VARIABLES[_choose(variable, FAN_VARIABLES, "variable")]
    styles = lab_styles(ds["lab"].values)
    labs = [labs] if isinstance(labs, str) else labs
    chosen = [_choose(lab, ds["lab"].values, "lab") for lab in labs] if labs else None
    for title, part, axes in _panels(ds, run, ax, "plot_fan", sharey=True):
        quantiles = part[name].dropna("lab", how="all")
        if chosen:
            quantiles = quantiles.sel(lab=[lab for lab in chosen if lab in quantiles["lab"]])
        _fan(axes, quantiles, styles)
        axes.set(title=f"{title}: {variable}\nmedian, 25-75% and 5-95% of "
                       f"{part.sizes['replicate']} replicates", xlabel="date", ylabel=ylabel)
        axes.legend(fontsize="small")
    return axes.figure


def _heatmap(axes, table, vmax):
    """An annotated heatmap of a (from_lab, to_lab) DataArray on the colour scale
    0..vmax, with a colour bar."""
    image = axes.imshow(table.values, cmap="viridis", vmin=0.0, vmax=vmax)
    for (i, j), value in np.ndenumerate(table.values):
        axes.text(j, i, f"{value:.0f}" if value >= 10 else f"{value:.1f}", ha="center",
                  va="center", fontsize="small",
                  color="white" if image.norm(value) < 0.5 else "black")
    axes.set_xticks(range(table.sizes["to_lab"]), table["to_lab"].values, rotation=45,
                    ha="right")
    axes.set_yticks(range(table.sizes["from_lab"]), table["from_lab"].values)
    axes.figure.colorbar(image, ax=axes, label="moves per replicate (researchers)")


def plot_flows(ds, ax=None, run=None):
    """Heatmap of the mean moves per replicate from each lab to each other lab.

    Moves are summed over tiers and the whole run; cells are annotated. For
    a comparison ``run`` picks "baseline" or "whatif", by default both side
    by side, on one colour scale.
    """
    labs = ds.sizes["lab"]
    panels = _panels(ds, run, ax, "plot_flows", size=(2.5 + 0.6 * labs, 2 + 0.45 * labs))
    tables = [part["flows"].dropna("from_lab", how="all").dropna("to_lab", how="all")
              .sum("tier").mean("replicate") for _, part, _ in panels]
    # One scale for both runs of a comparison, so equal colours are equal numbers.
    vmax = max(float(table.max()) for table in tables) or 1.0
    for (title, part, axes), table in zip(panels, tables):
        _heatmap(axes, table, vmax)
        axes.set(title=f"{title}: moves over the run\n(mean of {part.sizes['replicate']} "
                       "replicates, all tiers)", xlabel="to lab", ylabel="from lab")
    return axes.figure


def plot_questions(ds, ax=None):
    """Each forecast question's probability with its Wilson 95% interval.

    For a comparison the baseline and the what-if are drawn side by side
    for each question.
    """
    kind = require_kind(ds, ("run", "compare"), "plot_questions")
    table = questions_table(ds)
    if table.empty:
        raise ValueError("plot_questions: the file has no forecast questions")
    ids = pd.Index(table["id"].unique())
    groups = ([("P with Wilson 95% interval", table, 0.0)] if kind == "run" else
              [(RUN_LABELS[r], table[table["run"] == r], o)
               for r, o in zip(COMPARE_RUNS, (-0.15, 0.15))])
    axes = _axes(ax, size=(7.5, 1.5 + 0.4 * len(ids)))[0]
    for label, rows, offset in groups:
        axes.errorbar(rows["probability"].to_numpy(), ids.get_indexer(rows["id"]) + offset,
                      xerr=_error_bars(rows["probability"], rows["low"], rows["high"]),
                      fmt="o", capsize=3, label=label)
    axes.set_yticks(range(len(ids)), ids)
    axes.invert_yaxis()
    axes.set(xlim=(0, 1), xlabel="probability of the outcome (share of replicates)",
             title=f"Forecast questions ({ds.sizes['replicate']} replicates)")
    axes.legend(fontsize="small")
    return axes.figure


def _sweep_output(ds, output):
    """(value, low, high, axis label, what low-high is) over points of a sweep
    output: a question id (probability, Wilson 95% interval) or
    "headcount[Lab]" (mean end headcount, 5-95% of replicates)."""
    questions = [str(q) for q in ds["question"].values]
    headcounts = {f"headcount[{lab}]": lab for lab in ds["lab"].values}
    if _choose(output, questions + list(headcounts), "output") in questions:
        q = {"question": output}
        return (ds["question_probability"].sel(q), ds["question_low"].sel(q),
                ds["question_high"].sel(q), f"P({output}) (probability)",
                "Wilson 95% interval")
    lab = headcounts[output]
    quantile = ds["headcount_quantile"].sel(lab=lab)
    return (ds["headcount_mean"].sel(lab=lab), quantile.sel(quantile=0.05),
            quantile.sel(quantile=0.95), f"end headcount at {lab} (researchers)",
            "5-95% of replicates")


def _grid_lines(axes, points, x, other):
    """Column y against column ``x`` with error bars, one line per level of
    column ``other`` (None: one line)."""
    points = points.sort_values(x)
    for level, rows in points.groupby(other) if other else [(None, points)]:
        axes.errorbar(rows[x].to_numpy(), rows["y"].to_numpy(),
                      yerr=_error_bars(rows["y"], rows["low"], rows["high"]), marker="o",
                      capsize=3, label=None if other is None else f"{other} = {level:g}")


def _scatter_binned(axes, points, x, log):
    """Column y of every point against column ``x`` with its error bar, and the
    means of up to 10 equal bins of x (of log x if log)."""
    axes.errorbar(points[x].to_numpy(), points["y"].to_numpy(),
                  yerr=_error_bars(points["y"], points["low"], points["high"]),
                  fmt="o", markersize=4, alpha=0.4, label="points")
    bins = pd.cut(np.log(points[x]) if log else points[x], min(10, points[x].nunique()))
    binned = points.groupby(bins)[[x, "y"]].mean()
    axes.plot(binned[x], binned["y"], color="black", marker="s", label="mean of each bin")


def _log_x(axes):
    """A log x axis labelled with plain numbers, minor ticks too when it spans little."""
    axes.set_xscale("log")
    axes.xaxis.set_major_formatter(mticker.LogFormatter(labelOnlyBase=False))
    axes.xaxis.set_minor_formatter(mticker.LogFormatter(labelOnlyBase=False,
                                                        minor_thresholds=(2, 0.5)))


def plot_sweep_response(ds, parameter, output, ax=None):
    """A sweep output against one parameter's values.

    ``output`` is a question id (its probability with the Wilson 95%
    interval) or "headcount[Lab]" (the mean end-of-run headcount with its
    5-95% range). A grid of one or two parameters draws one line per level
    of the other parameter; other designs draw every point and a binned
    mean line.
    """
    require_kind(ds, ("sweep",), "plot_sweep_response")
    _choose(parameter, ds["parameter"].values, "parameter")
    value, low, high, ylabel, bars = _sweep_output(ds, output)
    points = ds["parameter_value"].to_pandas().assign(y=value.values, low=low.values,
                                                      high=high.values)
    others = [str(p) for p in ds["parameter"].values if p != parameter]
    log = ds["parameter_scale"].sel(parameter=parameter).item() == "log"
    axes = _axes(ax)[0]
    if ds.attrs["design"] == "grid" and len(others) <= 1:
        _grid_lines(axes, points, parameter, others[0] if others else None)
    else:
        _scatter_binned(axes, points, parameter, log)
    if log:
        _log_x(axes)
    axes.set(xlabel=parameter, ylabel=ylabel,
             title=f"{ds.attrs['name']}: {output} against {parameter}\n{ds.attrs['design']} "
                   f"design, {ds.sizes['point']} points x {ds.sizes['replicate']} replicates; "
                   f"bars: {bars}")
    if axes.get_legend_handles_labels()[0]:
        axes.legend(fontsize="small")
    return axes.figure


def plot_sobol(ds, output, ax=None):
    """Grouped bars of each parameter's first-order and total Sobol' index of an
    output, with their bootstrap 95% intervals."""
    require_kind(ds, ("sweep",), "plot_sobol")
    if "sobol_first" not in ds:
        raise ValueError(f"plot_sobol: this sweep ({ds.attrs['design']} design) has no Sobol' "
                         "indices; they come from a sweep with design: sobol")
    indices = ds.sel(output=_choose(output, ds["output"].values, "output"))
    x = np.arange(ds.sizes["parameter"])
    axes = _axes(ax)[0]
    for (name, label), offset in zip(SOBOL_INDICES.items(), (-0.2, 0.2)):
        value = indices[name]
        axes.bar(x + offset, value, 0.4, label=label, capsize=3,
                 yerr=_error_bars(value, indices[f"{name}_low"], indices[f"{name}_high"]))
    axes.axhline(0, color="black", linewidth=0.8)
    axes.set_xticks(x, ds["parameter"].values, rotation=30, ha="right")
    variance = float(indices["output_variance"])
    if variance > 0:
        noise = float(indices["output_noise_variance"]) / variance
        detail = f"variance across points {variance:.3g}, Monte Carlo noise {noise:.0%}"
    else:  # the indices are shares of a zero variance: there are none
        detail = "constant across points: no indices"
    axes.set(ylabel="Sobol' index (share of the output's variance)",
             title=f"Sobol' indices of {output}\n{detail}")
    axes.legend(fontsize="small")
    return axes.figure
