"""Real talentsim output for the tests, made once per session at small size.

The engine is the binary at $TALENTSIM_BINARY (ctest sets it); without it
every test that needs output is skipped. With TALENTSIM_REQUIRE_ALL=1 (ctest
sets it too) every skip is turned into a failure, so that nothing is left out
silently.
"""

import json
import os
import subprocess
from pathlib import Path

import matplotlib
import pytest

import talentsim_analysis as ta

matplotlib.use("Agg")

REPO = Path(__file__).resolve().parents[2]

# Sweep files on tests/data/every_key.yaml (4 labs, 3 tiers, 7 questions, 53 steps).
SWEEPS = {
    "grid": """
design: grid
replicates: 4
parameters:
  - {path: market.star_magnet, values: [0.0, 1.0, 2.0]}
  - {path: market.switching_cost, min: 0.5, max: 4.0, scale: log, levels: 2}
""",
    "sobol": """
design: sobol
samples: 8
replicates: 4
parameters:
  - {path: market.star_magnet, min: 0.0, max: 2.0}
  - {path: market.switching_cost, min: 0.5, max: 4.0, scale: log}
  - {path: market.peer_magnet, min: 0.0, max: 2.0}
""",
    "full": """
design: random
samples: 3
replicates: 3
output: full
parameters:
  - {path: market.star_magnet, min: 0.0, max: 2.0}
""",
}


REQUIRE_ALL = os.environ.get("TALENTSIM_REQUIRE_ALL", "") not in ("", "0")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """With TALENTSIM_REQUIRE_ALL set, a skipped test (a missing binary, module or
    file; importorskip; a skip mark) fails instead, with the skip's reason."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_ALL and report.skipped and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but TALENTSIM_REQUIRE_ALL is set: {reason}"


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    """With TALENTSIM_REQUIRE_ALL set, a module skipped while it is collected
    (pytest.importorskip of a missing package) fails instead."""
    outcome = yield
    report = outcome.get_result()
    if REQUIRE_ALL and report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else report.longrepr
        report.outcome = "failed"
        report.longrepr = f"skipped, but TALENTSIM_REQUIRE_ALL is set: {reason}"


@pytest.fixture(scope="session")
def talentsim():
    """A function running the talentsim binary with arguments; returns its stdout."""
    binary = os.environ.get("TALENTSIM_BINARY")
    if not binary:
        pytest.skip("TALENTSIM_BINARY is not set: point it at a built talentsim binary "
                    "(ctest sets it) to make the engine output these tests read")

    def run(*args):
        done = subprocess.run([binary, *map(str, args)], capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0, f"talentsim {' '.join(map(str, args))}: {done.stderr}"
        return done.stdout

    return run


@pytest.fixture(scope="session")
def work(tmp_path_factory):
    """The session's directory for engine output."""
    return tmp_path_factory.mktemp("talentsim")


@pytest.fixture(scope="session")
def summarize(talentsim):
    """``talentsim summarize --json`` of a file, parsed."""
    return lambda path: json.loads(talentsim("summarize", "--json", path))


@pytest.fixture(scope="session")
def run_file(talentsim, work):
    """A run of tests/data/every_key.yaml, 20 replicates."""
    path = work / "run.h5"
    talentsim("run", REPO / "tests/data/every_key.yaml", "-r", 20, "--quiet", "-o", path)
    return path


def _compare(talentsim, path, whatif, replicates):
    """A comparison of the news brief with a what-if of scenarios/whatif/ (or an absolute
    path)."""
    talentsim("compare", REPO / "scenarios/brief_2026.yaml", REPO / "scenarios/whatif" / whatif,
              "-r", replicates, "--quiet", "-o", path)
    return path


@pytest.fixture(scope="session")
def compare_file(talentsim, work):
    """The brief against OpenAI's +30% star pay, 8 replicates."""
    return _compare(talentsim, work / "compare.h5", "openai_star_pay.yaml", 8)


@pytest.fixture(scope="session")
def baseline_brief_file(talentsim, work):
    """The 2026 baseline against the news brief, 4 replicates: what_if.ipynb's default."""
    path = work / "baseline_vs_brief.h5"
    talentsim("compare", REPO / "scenarios/baseline_2026.yaml", REPO / "scenarios/brief_2026.yaml",
              "-r", 4, "--quiet", "-o", path)
    return path


@pytest.fixture(scope="session")
def spinout_file(talentsim, work):
    """The brief against an OpenAI spin-out: the what-if adds a lab and named researchers."""
    return _compare(talentsim, work / "spinout.h5", "openai_spinout.yaml", 2)


def _star_pay_variant(work, name, line, replacement):
    """scenarios/whatif/openai_star_pay.yaml with the line starting ``line``
    replaced by ``replacement``, written to <work>/<name>.yaml."""
    text = (REPO / "scenarios/whatif/openai_star_pay.yaml").read_text().splitlines()
    changed = [replacement if row.startswith(line) else row for row in text]
    assert changed != text, f"openai_star_pay.yaml has no line starting {line!r}"
    path = work / f"{name}.yaml"
    path.write_text("\n".join(changed) + "\n")
    return path


@pytest.fixture(scope="session")
def longer_file(talentsim, work):
    """The brief against OpenAI's +30% star pay run 6 months longer (to 2029-07-01),
    4 replicates."""
    whatif = _star_pay_variant(work, "longer", "end:", "end: 2029-07-01")
    return _compare(talentsim, work / "longer.h5", whatif, 4)


@pytest.fixture(scope="session")
def earlier_file(talentsim, work):
    """The brief against OpenAI's +30% star pay starting 3 months earlier (2025-10-01),
    2 replicates."""
    whatif = _star_pay_variant(work, "earlier", "start:", "start: 2025-10-01")
    return _compare(talentsim, work / "earlier.h5", whatif, 2)


@pytest.fixture(scope="session")
def calibration_file(talentsim, work):
    """A small calibration of every_key.yaml: two parameters, two targets, 3 generations."""
    spec = work / "calibration.yaml"
    spec.write_text(f"""name: calib
base: {REPO / 'tests/data/every_key.yaml'}
seed: 3
replicates: 2
particles: 20
generations: 3
check_replicates: 4
parameters:
  - {{path: market.switching_cost, min: 0.5, max: 4.0, prior: log-uniform}}
  - {{path: market.star_magnet, min: 0.0, max: 2.0}}
targets:
  - {{id: laba_hires, metric: hires, lab: LabA, window: [2026-01-01, 2026-12-31], value: 20,
     tolerance: 5, source: test}}
  - {{id: laba_retention, metric: retention, lab: LabA, window: [2026-01-01, 2026-03-31],
     after: 0.5, value: 0.8, tolerance: 0.1, source: test}}
""")
    path = work / "calib.calibration.h5"
    talentsim("calibrate", spec, "--quiet", "-o", path)
    return path


def _sweep(talentsim, work, name):
    """The sweep SWEEPS[name] on every_key.yaml, written to <work>/<name>.h5."""
    spec = work / f"{name}.yaml"
    spec.write_text(f"name: {name}\nbase: {REPO / 'tests/data/every_key.yaml'}\nseed: 3\n"
                    + SWEEPS[name])
    path = work / f"{name}.h5"
    talentsim("sweep", spec, "--quiet", "-o", path)
    return path


@pytest.fixture(scope="session")
def grid_file(talentsim, work):
    """A 3 x 2 grid over star_magnet (listed) and switching_cost (log), 4 replicates."""
    return _sweep(talentsim, work, "grid")


@pytest.fixture(scope="session")
def sobol_file(talentsim, work):
    """A Sobol' design over 3 parameters: 8 base samples, 40 points of 4 replicates."""
    return _sweep(talentsim, work, "sobol")


@pytest.fixture(scope="session")
def full_file(talentsim, work):
    """A random design of 3 points x 3 replicates with `output: full`."""
    return _sweep(talentsim, work, "full")


# The opened files, shared by the tests; they must not modify them.
@pytest.fixture(scope="session")
def run_ds(run_file):
    return ta.open_results(run_file)


@pytest.fixture(scope="session")
def compare_ds(compare_file):
    return ta.open_results(compare_file)


@pytest.fixture(scope="session")
def spinout_ds(spinout_file):
    return ta.open_results(spinout_file)


@pytest.fixture(scope="session")
def grid_ds(grid_file):
    return ta.open_results(grid_file)


@pytest.fixture(scope="session")
def sobol_ds(sobol_file):
    return ta.open_results(sobol_file)


@pytest.fixture(scope="session")
def full_ds(full_file):
    return ta.open_results(full_file)
