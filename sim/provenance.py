"""Where a result came from: the package version and, when run from a git checkout, its commit.

Stored with every result the project writes (a sweep's ``meta.json``, ``repsim run --json``,
``repsim run --out``, the metadata of every saved figure) so that a number can be traced back to
the code that computed it. Outside a checkout (an installed wheel) the commit is None; nothing
here fails for want of git.
"""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

__all__ = ["creator", "git_commit", "provenance", "version"]


def version() -> str:
    """The package version (``sim.__version__``, the same as pyproject's)."""
    from sim import __version__

    return __version__


@functools.cache
def git_commit() -> str | None:
    """The commit of the checkout this package was imported from, with ``-dirty`` appended when
    tracked files differ from it; None when the package is not in a git work tree or git is
    missing. Computed once per process (two short ``git`` calls)."""
    here = Path(__file__).resolve().parent
    try:
        top = _git(here, "rev-parse", "--show-toplevel")
        # A package installed into some other project's checkout is not that project's code.
        if top is None or not (Path(top) / "sim" / "provenance.py").exists():
            return None
        commit = _git(here, "rev-parse", "HEAD")
        if commit is None:
            return None
        dirty = _git(here, "status", "--porcelain", "--untracked-files=no")
        return f"{commit}-dirty" if dirty else commit
    except OSError:  # no git binary
        return None


def _git(cwd: Path, *args: str) -> str | None:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, timeout=10,
                          check=False)
    return done.stdout.strip() if done.returncode == 0 else None


def provenance() -> dict[str, str | None]:
    """``{"version": ..., "git_commit": ...}`` for a result file."""
    return {"version": version(), "git_commit": git_commit()}


def creator() -> str:
    """One line for a file's "Creator" metadata: ``repsim 0.1.0 (git 1a2b3c...)``."""
    commit = git_commit()
    return f"repsim {version()}" + (f" (git {commit})" if commit else "")
