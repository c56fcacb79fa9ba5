"""The teaching notebooks: committed without outputs (and as `nbconvert --clear-output` writes
them), with exercises and answers, and each runs top to bottom on a fresh kernel with
REPSIM_FAST=1 (short runs), failing on any error; each slider's callback runs once too."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
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


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_byte_stable_under_nbconvert_clear_output(path, tmp_path):
    """`jupyter nbconvert --clear-output --inplace` leaves a committed notebook unchanged."""
    pytest.importorskip("nbconvert")
    copy = tmp_path / path.name
    shutil.copy(path, copy)
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--clear-output", "--inplace",
                    str(copy)], check=True, capture_output=True)
    assert copy.read_bytes() == path.read_bytes(), (
        f"{path.name}: run `jupyter nbconvert --clear-output --inplace {path}` and commit")


@pytest.mark.parametrize("path", PATHS, ids=[p.stem for p in PATHS])
def test_ends_with_exercises_and_worked_answers(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    text = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    exercises = [t for t in text if t.startswith("## Exercises")]
    assert len(exercises) == 1, f"{path.name}: one Exercises section"
    asked = re.findall(r"^(\d)\. ", exercises[0], flags=re.M)
    assert 2 <= len(asked) <= 4, f"{path.name}: 2 to 4 exercises"
    answers = "\n".join(text[text.index(exercises[0]) + 1:])
    assert answers.startswith("## Answers")
    for number in asked:  # every exercise has its worked answer, in order
        assert f"**{number}.**" in answers, f"{path.name}: no answer to exercise {number}"


def test_quickstart_links_every_notebook():
    text = (NOTEBOOKS / "01-quickstart.ipynb").read_text(encoding="utf-8")
    for path in PATHS[1:]:
        assert f"]({path.name})" in text, f"01 does not link {path.name}"


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


SLIDER_CHECK = """
import ipywidgets
from matplotlib import pyplot
values = {}
for name, widget in SLIDERS.items():
    if isinstance(widget, ipywidgets.FloatLogSlider):
        value = widget.base ** widget.max
    elif hasattr(widget, "max"):
        value = widget.max
    else:
        value = widget.options[-1]
    widget.value = value  # through the widget, as a user would
    values[name] = widget.value
explore(**values)
pyplot.close("all")
print("sliders checked: " + ", ".join(f"{k}={v:g}" for k, v in values.items()))
"""


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
    slider_cells = [c for c in notebook.cells if "SLIDERS" in c.source]
    if slider_cells:
        # Call each slider's callback once with values the sliders give (their last step),
        # in the kernel the notebook ran in: a broken slider branch fails here.
        notebook.cells.append(nbformat.v4.new_code_cell(SLIDER_CHECK))
    client.execute()  # raises CellExecutionError, naming the cell, on any error
    if slider_cells:
        assert "sliders checked: " in "".join(
            out.get("text", "") for out in notebook.cells[-1].outputs)
    images = sum("image/png" in out.get("data", {})
                 for cell in notebook.cells if cell.cell_type == "code"
                 for out in cell.outputs)
    assert images >= 1, f"{path.name} drew no figure"
