"""One unit of work of a sweep: run one configuration with one seed and make it a tidy row.

This is the code that runs inside a worker process (or a Dask worker on another host), so it is
small, picklable and imports the engine (and with it SimPy) only when it is called.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

Row = dict[str, Any]
RunFn = Callable[[Any], Any]

# Summary entries that are not scalars of one run: a curve and the resolved config.
NOT_IN_ROWS = frozenset({"t_visibility", "config"})
# Columns every row starts with, in this order; the varied keys follow, then the metrics.
ID_COLUMNS = ("point", "rep", "seed")
ERROR_COLUMN = "error"


def derive_seed(base_seed: int, rep: int) -> int:
    """The seed of repetition ``rep``: child ``rep`` of ``SeedSequence(base_seed)``.

    The same for every point of a sweep (common random numbers across points) and independent
    of how many repetitions there are, so adding repetitions later keeps the earlier ones.
    Returns a non-negative int below 2**32.
    """
    seq = np.random.SeedSequence(int(base_seed), spawn_key=(int(rep),))
    return int(seq.generate_state(1, dtype=np.uint32)[0])


@dataclass(frozen=True)
class Task:
    """Point ``point`` (index into the grid), repetition ``rep``, run with ``config``.

    ``values`` are the varied keys of the point as the user gave them (``"5ms"`` stays a string);
    ``config`` already has them applied and carries ``seed`` as ``run.seed``.
    """

    point: int
    rep: int
    seed: int
    values: Mapping[str, Any]
    config: Any
    run_fn: RunFn | None = field(default=None, compare=False)

    def head(self) -> Row:
        """The identifying columns of this task's row."""
        return {"point": self.point, "rep": self.rep, "seed": self.seed, **self.values}


def engine_run(config: Any) -> Any:
    """The default run function: the real engine, imported here so a sweep's parent need not."""
    from sim.engine import simulate

    return simulate(config)


def _scalar(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def flatten_summary(summary: Mapping[str, Any], prefix: str = "") -> Row:
    """Scalar metrics of a run summary, nested keys joined with dots.

    ``{"read_latency_ms": {"p99": 1.2}}`` becomes ``{"read_latency_ms.p99": 1.2}``; a pair such as
    ``stale_read_rate_ci95: [lo, hi]`` becomes ``.lo`` and ``.hi`` (empty for an interval that is
    null, like ``cache_hit_rate_ci95`` without a cache, so every row has the same columns);
    curves (``t_visibility``) and the resolved ``config`` are left out, as are any other lists.
    """
    out: Row = {}
    for key, value in summary.items():
        if not prefix and key in NOT_IN_ROWS:
            continue
        name = f"{prefix}{key}"
        if value is None and "_ci95" in key:
            value = (None, None)
        if isinstance(value, Mapping):
            out.update(flatten_summary(value, f"{name}."))
        elif isinstance(value, list | tuple):
            if len(value) == 2 and not any(isinstance(v, list | tuple | Mapping) for v in value):
                out[f"{name}.lo"], out[f"{name}.hi"] = (_scalar(v) for v in value)
        else:
            out[name] = _scalar(value)
    return out


def error_text(exc: BaseException) -> str:
    """One line naming the exception: ``"ValueError: bad thing"``."""
    text = f"{type(exc).__name__}: {exc}".strip()
    return " ".join(text.split()) or type(exc).__name__


def error_row(task: Task, message: str, wall_seconds: float = math.nan) -> Row:
    """The row of a task whose run failed: its identity, ``wall_seconds`` and the error text."""
    return {**task.head(), "wall_seconds": wall_seconds, ERROR_COLUMN: message}


def run_task(task: Task) -> Row:
    """Run one task and return its row; an exception in the run becomes an ``error`` row."""
    start = time.perf_counter()
    try:
        run_fn = task.run_fn or engine_run
        result = run_fn(task.config)
        # The engine returns a Result with .summary; a stand-in may return the dict itself.
        summary = getattr(result, "summary", result)
        metrics = flatten_summary(summary)
    except Exception as exc:  # a failed point is recorded, not fatal (docs/design.md section 7)
        return error_row(task, error_text(exc), time.perf_counter() - start)
    metrics.setdefault("wall_seconds", time.perf_counter() - start)
    return {**task.head(), **metrics, ERROR_COLUMN: ""}
