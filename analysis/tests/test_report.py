"""The HTML report (talentsim_analysis.report) and its command line, on real engine output.

The files come from conftest.py's session fixtures (the engine at
$TALENTSIM_BINARY, small sizes); without the binary these tests skip.
"""

import base64
import html
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest

import talentsim_analysis as ta
from talentsim_analysis import report as report_module
from talentsim_analysis.report import write_report

ANALYSIS = Path(__file__).resolve().parents[1]
REPO = ANALYSIS.parent

# A report must stay small enough to mail.
MAX_BYTES = 3 * 1024 * 1024

# Section headings each kind of report must have.
HEADINGS = {
    "run": ["Scenario", "Headcount at the end", "Forecast questions", "Fan charts",
            "Flows between labs"],
    "compare": ["Scenarios", "Headcount at the end", "Forecast questions", "Fan charts",
                "Flows between labs"],
    "sweep": ["Sweep", "Parameters", "Forecast questions at each point", "Response curves"],
}
SOBOL_HEADING = "Sobol&#x27; sensitivity indices"

# The result fixtures of conftest.py, by the kind of file they are.
FIXTURES = {"run_file": "run", "compare_file": "compare", "spinout_file": "compare",
            "sobol_file": "sweep", "grid_file": "sweep"}


def _images(text):
    """The decoded PNG images embedded in a report."""
    return [base64.b64decode(data)
            for data in re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', text)]


def _section(text, heading):
    """The HTML of a report's section: from its <h2> heading to the next one (or the end),
    so that what a test looks for is not found in, say, the embedded scenario files."""
    start = text.index(f"<h2>{heading}</h2>")
    end = text.find("<h2>", start + 1)
    return text[start:end if end >= 0 else len(text)]


def _rows(section):
    """The body rows of the first table of a section, as lists of unescaped cell texts."""
    body = re.search(r"<tbody>(.*?)</tbody>", section, flags=re.S)
    assert body, "the section has no table"
    return [[html.unescape(cell) for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row)]
            for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), flags=re.S)]


def _summary(section):
    """The (label, value) pairs of a section's summary table, as a dict."""
    return {row[0]: row[1] for row in _rows(section)}


def _captions(section):
    """The figure captions of a section, unescaped."""
    return [html.unescape(c) for c in re.findall(r"<figcaption>(.*?)</figcaption>", section)]


def _cli(*args):
    """``python3 -m talentsim_analysis ARGS`` with the analysis folder on the path."""
    env = dict(os.environ, PYTHONPATH=str(ANALYSIS), MPLBACKEND="Agg")
    return subprocess.run([sys.executable, "-m", "talentsim_analysis", *map(str, args)],
                          capture_output=True, text=True, env=env, check=False)


@pytest.fixture(scope="module")
def reports(request, tmp_path_factory, talentsim):  # noqa: ARG001 (talentsim: skip first)
    """A function: the (kind, Dataset, report text, report size) of the results file of a
    conftest fixture, the report written once per module.

    It asks for ``talentsim`` itself so that without the binary it skips here: a
    skip raised inside request.getfixturevalue would be reported as a recursive
    fixture dependency instead."""
    folder, made = tmp_path_factory.mktemp("report"), {}

    def get(fixture):
        if fixture not in made:
            path = request.getfixturevalue(fixture)
            html_path = folder / f"{fixture}.html"
            assert write_report(path, html_path) == html_path
            made[fixture] = (FIXTURES[fixture], ta.open_results(path),
                             html_path.read_text(encoding="utf-8"), html_path.stat().st_size)
        return made[fixture]

    return get


@pytest.fixture(params=sorted(FIXTURES))
def report(request, reports):
    """The report of each kind of results file (see reports)."""
    return reports(request.param)


def test_report_is_self_contained(report):
    kind, _, text, size = report
    assert text.startswith("<!DOCTYPE html>") and text.rstrip().endswith("</html>")
    assert size < MAX_BYTES, f"a {kind} report is {size} bytes"
    # Every src or href is an embedded image: nothing is fetched from anywhere.
    targets = re.findall(r'\b(?:src|href)\s*=\s*"([^"]*)"', text)
    assert targets and all(t.startswith("data:image/png;base64,") for t in targets), targets
    assert "<script" not in text and "<link" not in text
    style = re.findall(r"<style>(.*?)</style>", text, flags=re.S)
    assert len(style) == 1 and "url(" not in style[0] and "@import" not in style[0]
    images = _images(text)
    assert len(images) == len(targets)
    assert all(image.startswith(b"\x89PNG\r\n\x1a\n") for image in images)


def test_report_has_the_sections_and_questions(report):
    kind, ds, text, _ = report
    for heading in HEADINGS[kind]:
        assert f"<h2>{heading}</h2>" in text, heading
    questions = [str(q) for q in ds["question"].values]
    assert questions, "the fixtures' scenarios ask questions"
    if kind == "sweep":
        parameters = [str(p) for p in ds["parameter"].values]
        # The Parameters table lists each parameter once, in order.
        assert [row[0] for row in _rows(_section(text, "Parameters"))] == parameters
        # The per-point table shows the first rows of questions_table.
        shown = ta.questions_table(ds).head(30)
        rows = _rows(_section(text, "Forecast questions at each point"))
        assert [row[len(parameters) + 1] for row in rows] == list(shown["id"])
        assert [int(row[0]) for row in rows] == list(shown["point"])
        # One response curve per parameter and question, one Sobol' panel per output.
        assert _captions(_section(text, "Response curves")) == [
            f"{q} against {p}" for q in questions for p in parameters]
        outputs = [str(o) for o in ds["output"].values] if "sobol_first" in ds else []
        assert len(_images(text)) == len(parameters) * len(questions) + len(outputs)
        assert (SOBOL_HEADING in text) == bool(outputs)
    else:
        # The questions table lists each question (both runs ask, for a comparison) in order.
        expected = (ta.compare_questions(ds) if kind == "compare" else ta.questions_table(ds))
        rows = _rows(_section(text, "Forecast questions"))
        assert [row[0] for row in rows] == list(expected["id"])
        # The questions plot, two fan charts and the flows.
        assert len(_images(text)) == 4


@pytest.mark.parametrize("fixture", ["compare_file", "spinout_file"])
def test_comparison_report_has_the_paired_differences(reports, fixture):
    _, ds, text, _ = reports(fixture)
    summary = _summary(_section(text, "Scenarios"))
    assert summary["baseline"] == ds.attrs["baseline_name"]
    assert summary["what-if"] == ds.attrs["whatif_name"]
    section = _section(text, "Forecast questions")
    assert "<th>paired 95%</th>" in section
    rows = {row[0]: row for row in _rows(section)}
    for q in ta.compare_questions(ds).itertuples():
        assert rows[q.id][7] == f"{q.difference:+.3f}", q.id
        assert rows[q.id][8] == f"[{q.low:+.3f}, {q.high:+.3f}]", q.id
    # The end-headcount table: the paired differences of end_headcount, per lab.
    difference = ta.paired_end_difference(ds).mean()
    heads = {row[0]: row for row in _rows(_section(text, "Headcount at the end"))}
    assert list(heads) == [str(lab) for lab in ds["lab"].values]
    for lab, value in difference.items():
        assert heads[lab][3] == ("" if np.isnan(value) else f"{value:+.1f}"), lab


@pytest.mark.parametrize("fixture", ["run_file", "spinout_file"])
def test_fan_charts_leave_out_the_outside_pool(reports, fixture):
    _, ds, text, _ = reports(fixture)
    assert "Outside" in ds["lab"].values
    assert _captions(_section(text, "Fan charts")) == [
        f"{what} (the outside pool, lab 'Outside', is left out)"
        for what in ("Headcount over all tiers", "Share of all star power")]
    assert report_module._fan_labs(ds) == [str(lab) for lab in ds["lab"].values
                                           if lab != "Outside"]


def test_sobol_report_has_every_output(reports):
    _, ds, text, _ = reports("sobol_file")
    assert _captions(_section(text, SOBOL_HEADING)) == [
        f"Sobol' indices of {output}" for output in ds["output"].values]


def test_comparison_of_runs_of_different_lengths(longer_file, tmp_path):
    # The what-if runs half a year longer: each run's end headcount is taken at its own end.
    path = longer_file
    report = write_report(path, tmp_path / "longer.html").read_text(encoding="utf-8")
    assert ("<tr><th>period: baseline</th><td>2026-01-01 to 2029-01-01 (exclusive): 157 steps "
            "of 7 days</td></tr>") in report
    assert ("<tr><th>period: what-if</th><td>2026-01-01 to 2029-07-01 (exclusive): 183 steps "
            "of 7 days</td></tr>") in report
    openai = re.search(r"<tr><td>OpenAI</td>((?:<td[^>]*>[^<]*</td>){4})</tr>", report)
    assert openai and '<td class="num"></td>' not in openai.group(1), openai


def test_text_from_the_file_is_escaped(talentsim, tmp_path):
    path = tmp_path / "escape.h5"
    talentsim("run", REPO / "tests/data/every_key.yaml", "-r", 3, "--quiet", "-o", path,
              "--set", 'questions[0].text=<script>alert("x")</script> & co',
              "--set", "name=a<b>&c")
    text = write_report(path, tmp_path / "escape.html").read_text(encoding="utf-8")
    assert "<script" not in text and "<b>" not in text
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; co" in text
    assert "<h1>talentsim run: a&lt;b&gt;&amp;c</h1>" in text


def test_cli_writes_the_default_path(run_file, tmp_path):
    results = tmp_path / "brief run.h5"
    shutil.copy(run_file, results)
    done = _cli("report", results)
    assert done.returncode == 0, done.stderr
    html_path = tmp_path / "brief run.html"
    assert html_path.is_file() and str(html_path) in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["brief run.h5", "brief run.html"]


def test_cli_output_option(compare_file, tmp_path):
    done = _cli("report", compare_file, "-o", tmp_path / "cmp.html")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "cmp.html").read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_cli_help():
    done = _cli("report", "--help")
    assert done.returncode == 0 and "OUT.html" in done.stdout


def _not_hdf5(folder):
    path = folder / "notes.h5"
    path.write_text("not a results file\n")
    return path


def _hdf5_without_file_type(folder):
    path = folder / "other.h5"
    with h5py.File(path, "w") as f:
        f.attrs["title"] = "some other HDF5 file"
        f["x"] = [1, 2, 3]
    return path


@pytest.mark.parametrize("make, message", [
    (_not_hdf5, "not a readable HDF5 file"),
    (_hdf5_without_file_type, "not a talentsim results file"),
])
def test_cli_refuses_a_file_that_is_not_talentsim_results(tmp_path, make, message):
    path = make(tmp_path)
    done = _cli("report", path)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0] and str(path) in lines[0], done.stderr
    assert done.stdout == ""
    assert [p.name for p in tmp_path.iterdir()] == [path.name], "a file was left behind"


def test_cli_missing_file(tmp_path):
    done = _cli("report", tmp_path / "missing.h5")
    assert done.returncode == 2
    assert done.stderr.strip() == (f"python3 -m talentsim_analysis report: error: "
                                   f"{tmp_path / 'missing.h5'}: no such file")
    assert list(tmp_path.iterdir()) == []


def test_cli_unreadable_file(run_file, tmp_path, monkeypatch, capsys):
    # Permission denied on FILE is a read error, not "cannot write" the report.
    from talentsim_analysis import __main__ as cli
    from talentsim_analysis import io as io_module

    def denied(path, mode):
        raise PermissionError(13, "Unable to synchronously open file (Permission denied)")

    monkeypatch.setattr(io_module.h5py, "File", denied)
    assert cli.main(["report", str(run_file), "-o", str(tmp_path / "r.html")]) == 2
    assert capsys.readouterr().err.strip() == (
        f"python3 -m talentsim_analysis report: error: permission denied: cannot read "
        f"{run_file} (check its permissions)")
    assert list(tmp_path.iterdir()) == []


def test_cli_unwritable_destination(run_file, tmp_path):
    destination = tmp_path / "missing folder" / "report.html"
    done = _cli("report", run_file, "-o", destination)
    assert done.returncode == 1
    assert done.stderr.strip() == (f"python3 -m talentsim_analysis report: error: cannot write "
                                   f"{destination}: No such file or directory")
    assert list(tmp_path.iterdir()) == []


def test_cli_refuses_to_replace_the_results_file(run_file, tmp_path):
    results = tmp_path / "run.h5"
    shutil.copy(run_file, results)
    done = _cli("report", results, "-o", results)
    assert done.returncode == 2 and "would replace the results file" in done.stderr
    assert ta.file_type(results) == "run" and list(tmp_path.iterdir()) == [results]


def test_cli_usage_error():
    done = _cli("report")
    assert done.returncode == 2 and "FILE" in done.stderr


def test_a_failed_report_keeps_the_previous_one(tmp_path, run_file, monkeypatch):
    destination = tmp_path / "report.html"
    destination.write_text("previous report")
    with pytest.raises(ta.FormatError):
        write_report(_not_hdf5(tmp_path), destination)

    def fail(*args):
        raise OSError("disk full")

    # A failure while renaming the finished report into place leaves no temporary file.
    monkeypatch.setattr(os, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_report(run_file, destination)
    assert destination.read_text() == "previous report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.h5", "report.html"]


def test_outcome_text_matches_the_engines_report():
    """The words of bounds_text in sim/src/run/report.cpp, for each kind of bound;
    a question without bounds runs (with a warning) and says so."""
    outcome = report_module._outcome
    nan = float("nan")
    assert outcome("hires", 8.0, nan) == "hires >= 8"
    assert outcome("net_flow", nan, -3.0) == "net_flow <= -3"
    assert outcome("hires", 2.0, 3.0) == "2 <= hires <= 3"
    assert outcome("hires", nan, nan) == "hires: any value"
