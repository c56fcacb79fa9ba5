"""Imports point down the package's layers (docs/design.md section 6), one kind throughout."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SIM = Path(__file__).resolve().parent.parent / "sim"
LAYERS = ["errors", "provenance", "config", "model", "measure", "analysis", "engine", "plot", "experiment",
          "explore", "redis", "cli"]


def layer(module: str) -> int | None:
    """The layer of ``sim.<part>...``; None for the package itself (the public API)."""
    parts = module.split(".")
    if parts[0] != "sim" or len(parts) < 2 or parts[1] in ("__init__", "__main__"):
        return None
    return LAYERS.index(parts[1])


def modules():
    for path in sorted(SIM.rglob("*.py")):
        name = ".".join(path.relative_to(SIM.parent).with_suffix("").parts)
        yield name.removesuffix(".__init__"), path


@pytest.mark.parametrize(("name", "path"), list(modules()), ids=lambda v: str(v))
def test_imports_point_down_the_layers(name, path):
    own = layer(name)
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{name}: relative import (the package imports absolutely)"
            targets = [node.module or ""]
        elif isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        else:
            continue
        for target in targets:
            below = layer(target)
            if own is None or below is None:
                continue
            assert below <= own, f"{name} ({LAYERS[own]}) imports {target} ({LAYERS[below]})"


def test_every_top_level_part_of_the_package_has_a_layer():
    parts = {p.stem if p.is_file() else p.name for p in SIM.iterdir()
             if p.name not in ("__init__.py", "__main__.py", "__pycache__")}
    assert parts == set(LAYERS)


def test_the_design_document_maps_every_module():
    text = (SIM.parent / "docs" / "design.md").read_text()
    layout = text.split("## 6. The layers", 1)[1].split("\n## ", 1)[0]
    # A line names a path from sim/ or, indented under a folder's line, a name in that folder
    # (a folder ends in "/", so subpackages nest); anything else is prose.
    listed, folders = set(), []  # folders: (indent, path) of the folders open above a line
    for line in layout.splitlines():
        words = line.split()
        if not words:
            continue
        indent = len(line) - len(line.lstrip())
        while folders and folders[-1][0] >= indent:
            folders.pop()
        name = words[0]
        if name.startswith("sim/"):
            path = name
        elif folders:
            path = f"{folders[-1][1]}/{name}"
        else:
            continue
        if path.endswith(".py"):
            listed.add(path)
        elif path.endswith("/"):
            folders.append((indent, path.rstrip("/")))
    modules = {str(p.relative_to(SIM.parent)) for p in SIM.rglob("*.py")
               if p.name not in ("__init__.py", "__main__.py")}
    assert modules - listed == set(), "modules missing from docs/design.md section 6"
    assert listed - modules == set(), "docs/design.md section 6 names modules that do not exist"
