"""Figures of real output: what each draws, and the errors for the wrong kind of file."""

import matplotlib
import matplotlib.dates as mdates
import numpy as np
import pytest
from matplotlib.figure import Figure

import talentsim_analysis as ta

LABS = ["LabA", "LabB", "Outside", "SpinOut"]


def _legend(axes):
    """The texts of the legend of axes."""
    return [t.get_text() for t in axes.get_legend().get_texts()]


def test_fan_run(run_ds):
    figure = ta.plot_fan(run_ds)
    (axes,) = figure.axes
    assert len(axes.lines) == 4 and len(axes.collections) == 2 * 4
    assert _legend(axes) == LABS
    assert isinstance(axes.xaxis.get_major_formatter(), mdates.ConciseDateFormatter)
    assert axes.lines[0].get_xdata().dtype.kind == "M"
    median = run_ds["total_headcount_quantiles"].sel(quantile=0.5, lab="LabB").values
    np.testing.assert_array_equal(axes.lines[1].get_ydata(), median)
    assert axes.get_xlabel() == "date" and "researchers" in axes.get_ylabel()
    assert "every-key" in axes.get_title()


def test_fan_share_of_chosen_labs_into_axes(run_ds):
    axes = Figure().subplots()
    figure = ta.plot_fan(run_ds, "share", labs=["LabB", "SpinOut"], ax=axes)
    assert figure is axes.figure and len(figure.axes) == 1
    assert _legend(axes) == ["LabB", "SpinOut"]
    assert "share of all star power" in axes.get_ylabel()


def test_fan_compare(spinout_ds):
    base, whatif = ta.plot_fan(spinout_ds).axes
    assert len(base.lines) == 10 and len(whatif.lines) == 11  # the what-if adds a lab
    assert base.get_title().startswith("baseline") and whatif.get_title().startswith("what-if")
    (axes,) = ta.plot_fan(spinout_ds, run="whatif", labs="OpenAI Spinout").axes
    assert _legend(axes) == ["OpenAI Spinout"]


def _line_styles(axes):
    """{legend label: (RGBA colour, line style)} of the median lines of axes."""
    return {line.get_label(): (matplotlib.colors.to_rgba(line.get_color()), line.get_linestyle())
            for line in axes.lines}


def test_fan_compare_keeps_each_labs_colour(spinout_ds):
    # The what-if adds a lab (last in ds.lab): every other lab keeps its colour, and the
    # added lab does not take OpenAI's (the 11th colour of a 10-colour cycle would).
    base, whatif = (_line_styles(a) for a in ta.plot_fan(spinout_ds).axes)
    assert "OpenAI Spinout" not in base and set(whatif) - set(base) == {"OpenAI Spinout"}
    for lab, style in base.items():
        assert whatif[lab] == style, lab
    colours = [colour for colour, _ in whatif.values()]
    assert len(set(colours)) == len(colours)
    assert whatif["OpenAI Spinout"][0] != whatif["OpenAI"][0]
    # A panel drawing only some labs keeps their colours too.
    (axes,) = ta.plot_fan(spinout_ds, run="whatif", labs=["Outside", "OpenAI Spinout"]).axes
    assert _line_styles(axes) == {lab: whatif[lab] for lab in ("Outside", "OpenAI Spinout")}


def test_lab_styles_past_twenty_labs():
    styles = ta.plots.lab_styles([f"L{i}" for i in range(100)])
    assert len(set(styles.values())) == 100


def test_fan_errors(run_ds, compare_ds, grid_ds):
    with pytest.raises(ValueError, match="unknown lab 'Nowhere'; valid: LabA, LabB"):
        ta.plot_fan(run_ds, labs=["Nowhere"])
    with pytest.raises(ValueError, match="unknown variable 'hires'; valid: headcount, share"):
        ta.plot_fan(run_ds, "hires")
    with pytest.raises(ValueError, match="run='baseline'"):
        ta.plot_fan(compare_ds, ax=Figure().subplots())
    with pytest.raises(ValueError, match="unknown run 'other'"):
        ta.plot_fan(compare_ds, run="other")
    with pytest.raises(ValueError, match="this is a run file"):
        ta.plot_fan(run_ds, run="baseline")
    with pytest.raises(ValueError, match="plot_fan needs a run or compare file, not a sweep"):
        ta.plot_fan(grid_ds)


def test_flows_run(run_ds):
    figure = ta.plot_flows(run_ds)
    heatmap, colourbar = figure.axes
    (image,) = heatmap.images
    mean = run_ds["flows"].sum("tier").mean("replicate").values
    np.testing.assert_allclose(image.get_array(), mean)
    assert len(heatmap.texts) == 4 * 4
    assert [t.get_text() for t in heatmap.get_yticklabels()] == LABS
    assert heatmap.get_xlabel() == "to lab" and heatmap.get_ylabel() == "from lab"
    assert "researchers" in colourbar.get_ylabel()


def test_flows_compare(spinout_ds):
    figure = ta.plot_flows(spinout_ds)
    assert len(figure.axes) == 4  # two heatmaps, two colour bars
    assert [a.images[0].get_array().shape for a in figure.axes[:2]] == [(10, 10), (11, 11)]
    assert len(ta.plot_flows(spinout_ds, run="baseline").axes) == 2
    # One colour scale for both heatmaps.
    base, whatif = (a.images[0] for a in figure.axes[:2])
    assert base.norm.vmin == whatif.norm.vmin == 0
    assert base.norm.vmax == whatif.norm.vmax == pytest.approx(
        max(float(np.nanmax(image.get_array())) for image in (base, whatif)))


def test_flows_needs_a_run(sobol_ds):
    with pytest.raises(ValueError, match="plot_flows needs a run or compare file"):
        ta.plot_flows(sobol_ds)


def test_questions_run(run_ds):
    (axes,) = ta.plot_questions(run_ds).axes
    (bars,) = axes.containers
    np.testing.assert_array_equal(bars.lines[0].get_xdata(),
                                  ta.questions_table(run_ds)["probability"])
    labels = [t.get_text() for t in axes.get_yticklabels()]
    assert labels == list(run_ds["question"].values)
    assert axes.get_xlim() == (0, 1) and "probability" in axes.get_xlabel()


def test_questions_compare(compare_ds):
    (axes,) = ta.plot_questions(compare_ds).axes
    assert len(axes.containers) == 2
    assert _legend(axes) == ["baseline", "what-if"]
    assert len(axes.get_yticklabels()) == 10


def test_questions_errors(grid_ds, run_ds):
    with pytest.raises(ValueError, match="plot_questions needs a run or compare file"):
        ta.plot_questions(grid_ds)
    with pytest.raises(ValueError, match="the file has no forecast questions"):
        ta.plot_questions(run_ds.isel(question=[]))


def test_sweep_response_grid(grid_ds):
    (axes,) = ta.plot_sweep_response(grid_ds, "market.switching_cost", "labb_net").axes
    assert len(axes.containers) == 3  # one line per star_magnet level
    assert _legend(axes) == [f"market.star_magnet = {v}" for v in ("0", "1", "2")]
    assert axes.get_xscale() == "log" and axes.get_xlabel() == "market.switching_cost"
    assert "bars: Wilson 95% interval" in axes.get_title()
    line = axes.containers[0].lines[0]
    np.testing.assert_allclose(line.get_xdata(), [0.5, 4.0])
    want = grid_ds["question_probability"].sel(question="labb_net").values[:2]
    np.testing.assert_array_equal(line.get_ydata(), want)


def test_sweep_response_grid_headcount(grid_ds):
    (axes,) = ta.plot_sweep_response(grid_ds, "market.star_magnet", "headcount[LabB]").axes
    assert len(axes.containers) == 2 and axes.get_xscale() == "linear"
    assert "researchers" in axes.get_ylabel()


@pytest.mark.parametrize("fixture, parameter, points", [
    ("sobol_ds", "market.switching_cost", 40), ("full_ds", "market.star_magnet", 3)])
def test_sweep_response_scatter(request, fixture, parameter, points):
    ds = request.getfixturevalue(fixture)
    (axes,) = ta.plot_sweep_response(ds, parameter, "labb_share").axes
    (scatter,) = axes.containers
    assert len(scatter.lines[0].get_xdata()) == points
    assert _legend(axes) == ["mean of each bin", "points"]


def test_sweep_response_errors(run_ds, grid_ds):
    with pytest.raises(ValueError, match="plot_sweep_response needs a sweep file, not a run"):
        ta.plot_sweep_response(run_ds, "market.star_magnet", "labb_net")
    with pytest.raises(ValueError, match="unknown parameter 'market.x'; valid: market.star_magnet, "
                                         "market.switching_cost"):
        ta.plot_sweep_response(grid_ds, "market.x", "labb_net")
    with pytest.raises(ValueError, match=r"unknown output 'nope'; valid: .*labb_net.*"
                                         r"headcount\[SpinOut\]"):
        ta.plot_sweep_response(grid_ds, "market.star_magnet", "nope")


def test_sobol(sobol_ds):
    (axes,) = ta.plot_sobol(sobol_ds, "headcount[LabB]").axes
    assert len(axes.patches) == 2 * 3
    assert _legend(axes) == ["first order", "total"]
    heights = [p.get_height() for p in axes.patches[:3]]
    np.testing.assert_allclose(heights, sobol_ds["sobol_first"].sel(output="headcount[LabB]"))
    assert [t.get_text() for t in axes.get_xticklabels()] == list(sobol_ds["parameter"].values)
    assert "share of the output's variance" in axes.get_ylabel()


def test_sobol_title(sobol_ds):
    (axes,) = ta.plot_sobol(sobol_ds, "headcount[LabB]").axes
    assert "Monte Carlo noise" in axes.get_title() and "nan" not in axes.get_title()
    # An output constant across points has variance 0: no indices, and no "noise nan%".
    constant = sobol_ds.copy()
    constant["output_variance"] = constant["output_variance"].where(
        constant["output"] != "headcount[LabB]", 0.0)
    constant["output_noise_variance"] = constant["output_noise_variance"].where(
        constant["output"] != "headcount[LabB]", 0.0)
    (axes,) = ta.plot_sobol(constant, "headcount[LabB]").axes
    assert "constant across points: no indices" in axes.get_title()
    assert "nan" not in axes.get_title()


def test_sobol_errors(run_ds, grid_ds, sobol_ds):
    with pytest.raises(ValueError, match="grid design.*no Sobol' indices"):
        ta.plot_sobol(grid_ds, "labb_net")
    with pytest.raises(ValueError, match="unknown output 'nope'; valid: labb_star_hires"):
        ta.plot_sobol(sobol_ds, "nope")
    with pytest.raises(ValueError, match="plot_sobol needs a sweep file"):
        ta.plot_sobol(run_ds, "labb_net")
