"""The teaching notebooks: committed without outputs, and each runs top to bottom on a fresh
kernel with REPSIM_FAST=1 (short runs), failing on any error."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

NOTEBOOKS = Path(__file__).resolve().parent.parent / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("*.ipynb"))
KERNEL = "repsim-test-python"
CELL_TIMEOUT_S = 300  # a guard against a hung kernel, not a speed check


def test_there_are_notebooks():
    assert len(PATHS) >= 6


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_committed_without_outputs(path):
    """Outputs are not committed: strip them with `jupyter nbconvert --clear-output --inplace`."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [], f"{path.name}: a code cell has outputs"
            assert cell.get("execution_count") is None, f"{path.name}: a cell was executed"


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_reads_the_fast_flag_first(path):
    notebook = json.loads(path.read_text(encoding="utf-8"))
    code = [c for c in notebook["cells"] if c["cell_type"] == "code"]
    assert "REPSIM_FAST" in "".join(code[0]["source"])


@pytest.fixture(scope="module")
def kernel_dir(tmp_path_factory):
    """A kernelspec that starts this interpreter, so the notebooks run against the project
    installed here whatever kernels (if any) the machine has."""
    pytest.importorskip("ipykernel")
    root = tmp_path_factory.mktemp("jupyter")
    spec = root / "kernels" / KERNEL
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "repsim tests", "language": "python"}))
    return root


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_runs_without_error(path, kernel_dir, monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    monkeypatch.setenv("JUPYTER_PATH", str(kernel_dir))
    monkeypatch.setenv("REPSIM_FAST", "1")
    monkeypatch.delenv("MPLBACKEND", raising=False)  # the notebooks use the inline backend
    notebook = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(
        notebook, kernel_name=KERNEL, timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    images = sum("image/png" in out.get("data", {})
                 for cell in notebook.cells if cell.cell_type == "code"
                 for out in cell.outputs)
    assert images >= 1, f"{path.name} drew no figure"
