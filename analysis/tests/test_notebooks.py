"""The notebooks in analysis/notebooks: committed without outputs, and run headless.

Each notebook is executed with nbclient against small engine output from
conftest.py's session fixtures, its results path passed through the
environment variable its first code cell reads. Any cell error fails the test.

The kernel: a kernel spec written for the test into a temporary folder, named
"python3" as in the notebooks' metadata, whose argv starts the interpreter
running the tests (sys.executable; /usr/bin/python3 under ctest) with
ipykernel. So the test neither depends on nor is misled by whatever kernel
specs the machine or the user have installed (Debian's python3-ipykernel
installs /usr/share/jupyter/kernels/python3, which also runs /usr/bin/python3).
"""

import json
import os
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat", reason="python3-nbformat is not installed")
nbclient = pytest.importorskip("nbclient", reason="python3-nbclient is not installed")
pytest.importorskip("ipykernel", reason="python3-ipykernel is not installed")

from jupyter_client.kernelspec import KernelSpecManager  # noqa: E402 (after the skips)
from jupyter_client.manager import KernelManager  # noqa: E402

import talentsim_analysis as ta  # noqa: E402

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
CELL_TIMEOUT = 120  # seconds

# Notebook -> (environment variable of its results path, fixture of conftest.py).
CASES = {
    "what_if": ("TALENTSIM_WHATIF_RESULTS", "baseline_brief_file"),
    "sweep": ("TALENTSIM_SWEEP_RESULTS", "sobol_file"),
    "sweep on a grid": ("TALENTSIM_SWEEP_RESULTS", "grid_file"),
}


def _figures(name, ds):
    """How many figures a notebook displays for the Dataset it reads."""
    if name == "what_if":
        return 4  # questions, two fan charts, flows
    # One response figure per question and one for a lab's headcount; Sobol' bars per output.
    return ds.sizes["question"] + 1 + (ds.sizes["output"] if "sobol_first" in ds else 0)


def _read(name):
    """The committed notebook analysis/notebooks/<name>.ipynb."""
    return nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)


@pytest.mark.parametrize("name", ["what_if", "sweep"])
def test_committed_notebook_is_valid_and_has_no_outputs(name):
    nb = _read(name)
    nbformat.validate(nb)
    assert nb.metadata.kernelspec.name == "python3"
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert code and all(cell.outputs == [] and cell.execution_count is None for cell in code)
    # The first code cell reads the results path from the environment.
    variable = CASES[name][0]
    assert f'os.environ.get("{variable}"' in code[0].source
    if name == "what_if":
        # The paired end-of-run difference is each run's own end (ta.paired_end_difference),
        # not the common last step, where a longer run's partner is NaN.
        source = "\n".join(cell.source for cell in code)
        assert "ta.paired_end_difference(ds)" in source and "isel(time=-1)" not in source


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A folder of kernel specs holding one, "python3", that runs this interpreter."""
    folder = tmp_path_factory.mktemp("kernels")
    spec = folder / "python3"
    spec.mkdir()
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (talentsim tests)", "language": "python"}))
    return folder


@pytest.mark.parametrize("case", sorted(CASES))
def test_notebook_runs(case, request, kernel_dir, tmp_path, monkeypatch):
    name = case.split()[0]
    variable, fixture = CASES[case]
    monkeypatch.setenv(variable, str(request.getfixturevalue(fixture)))
    # The kernel inherits this environment: keep IPython's and Jupyter's files out of
    # $HOME, let IPython pick its inline backend (figures become PNG outputs), and
    # quiet the debugger's warning about frozen modules.
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "runtime"))
    monkeypatch.delenv("MPLBACKEND", raising=False)
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")

    manager = KernelManager(kernel_name="python3",
                            kernel_spec_manager=KernelSpecManager(kernel_dirs=[str(kernel_dir)]))
    assert manager.kernel_spec.argv[0] == sys.executable
    nb = _read(name)
    client = nbclient.NotebookClient(nb, km=manager, timeout=CELL_TIMEOUT,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError on the first cell that fails

    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    assert all(cell.execution_count is not None for cell in code)
    outputs = [o for cell in code for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    assert not [o for o in outputs if o.output_type == "stream" and o.name == "stderr"], \
        [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    images = [o for o in outputs if "image/png" in o.get("data", {})]
    assert len(images) == _figures(name, ta.open_results(os.environ[variable]))
    # The file read is the one passed in the environment.
    first = "".join(o.get("text", "") for o in code[0].outputs)
    assert ("what-if" if name == "what_if" else "sweep") in first
