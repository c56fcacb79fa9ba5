"""Parameter sweeps: grids of configurations, repetitions with derived seeds, tidy results.

``sweep(base, vary={"workload.write_rate": "log:10:10000:7", "replication.delay": ["1ms",
"5ms"]}, reps=3)`` runs every point of the full cartesian product (keys named together in
``zip`` vary together instead), each ``reps`` times, and returns one pandas row per run:
``point, rep, seed``, the varied keys as given, every scalar metric of the run summary
(``read_latency_ms.p99`` ...), ``wall_seconds`` and ``error`` (empty when the run succeeded).

Repetition ``r`` of every point runs with the same seed, derived from the point's
``run.seed`` and ``r`` (see :func:`sim.experiment.task.derive_seed`): common random numbers make
the curves across points smooth, and the same sweep reproduces bit for bit on any executor.
With ``out=DIR`` rows are appended to ``DIR/results.csv`` as runs finish and a rerun resumes.

This module never imports SimPy: the engine is imported inside the workers.
"""

from __future__ import annotations

import builtins
import contextlib
import itertools
import re
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import ConfigError
from sim.experiment.executors import Progress, check_executor, execute
from sim.experiment.store import (
    PARQUET_NAME,
    SweepDir,
    read_json,
    read_results,
    rows_frame,
    write_parquet,
)
from sim.experiment.task import ERROR_COLUMN, Row, RunFn, Task, derive_seed

__all__ = ["sweep", "plan_sweep", "expand_values", "split_values", "SweepPlan",
           "add_seconds_columns", "load_sweep"]

_RANGE = re.compile(r"^(log|lin):([^:]+):([^:]+):([^:]+)$")
_NUMBER_UNIT = re.compile(r"^([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)\s*([a-zA-Z]*)$")
_NAMED_PARAM = re.compile(r"^[A-Za-z_]\w*\s*=")


def parse_scalar(text: str) -> Any:
    """A value typed on the command line: TOML when it parses (``5``, ``0.5``, ``true``),
    else the bare string (``5ms``, ``exp:1ms``)."""
    text = text.strip()
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return text


def split_values(text: str) -> list[Any]:
    """Split a command-line value list ``"1ms,5ms,20ms"`` into typed values.

    Commas inside a distribution stay with it: ``"uniform:1ms,9ms,exp:2ms"`` gives two values,
    and so does ``"lognormal:median=5ms,sigma=0.8,1ms"``. A TOML array (``'["a,b", "c"]'``) is
    taken as it is.
    """
    text = text.strip()
    if text.startswith("["):
        value = parse_scalar(text)
        if isinstance(value, list):
            return value
    items: list[str] = []
    for part in (p.strip() for p in text.split(",")):
        joins_previous = items and (
            _NAMED_PARAM.match(part)
            or (items[-1].startswith("uniform:") and "," not in items[-1]))
        if joins_previous:
            items[-1] = f"{items[-1]},{part}"
        else:
            items.append(part)
    return [parse_scalar(item) for item in items]


def _round(value: float) -> float:
    # Six significant digits: readable in the CSV and stable across platforms' last bits.
    return float(f"{value:.6g}")


def _parse_range(key: str, spec: str, match: re.Match[str]) -> tuple[list[float], str]:
    """Numbers of ``log:a:b:n`` / ``lin:a:b:n`` and the endpoints' common unit (or "")."""
    kind, lo_text, hi_text, n_text = (g.strip() for g in match.groups())
    allowed = (f"{kind}:START:STOP:COUNT with numbers (or durations in one unit, like 1ms:20ms)"
               + (" > 0" if kind == "log" else "") + " and a whole COUNT >= 1")
    ends = [_NUMBER_UNIT.match(t) for t in (lo_text, hi_text)]
    if not all(ends) or not n_text.isdigit() or int(n_text) < 1:
        raise ConfigError(key, spec, allowed)
    (lo, lo_unit), (hi, hi_unit) = ((float(m.group(1)), m.group(2)) for m in ends if m)
    if lo_unit != hi_unit or (kind == "log" and (lo <= 0 or hi <= 0)):
        raise ConfigError(key, spec, allowed)
    n = int(n_text)
    numbers = np.geomspace(lo, hi, n) if kind == "log" else np.linspace(lo, hi, n)
    return [float(x) for x in numbers], lo_unit


def expand_values(key: str, spec: Any, base_value: Any = None) -> list[Any]:
    """The list of values one ``vary`` entry stands for.

    ``spec`` is a list (taken as it is), a range string ``log:START:STOP:COUNT`` (log-spaced,
    both ends included) or ``lin:START:STOP:COUNT``, a comma list ``"1ms,5ms"``, or one value.
    Range values are ints when ``base_value`` (the key's default) is an int, else floats
    rounded to 6 significant digits; duration endpoints (``log:1ms:100ms:5``) give durations in
    the same unit (``"10ms"``).
    """
    int_key = isinstance(base_value, int) and not isinstance(base_value, bool)
    if isinstance(spec, np.ndarray):
        spec = spec.tolist()
    if isinstance(spec, str):
        match = _RANGE.match(spec.strip())
        if match:
            numbers, unit = _parse_range(key, spec, match)
            if int_key and not unit:
                values: list[Any] = list(dict.fromkeys(int(round(x)) for x in numbers))
            elif unit:
                values = [f"{_round(x):g}{unit}" for x in numbers]
            else:
                values = [_round(x) for x in numbers]
            return values
        if spec.strip().startswith(("log:", "lin:")):  # a range missing a part, say the COUNT
            raise ConfigError(key, spec, "a range log:START:STOP:COUNT or lin:START:STOP:COUNT")
        values = split_values(spec)
        if any(v == "" for v in values):
            raise ConfigError(key, spec, "a comma list of values without empty items")
        return values
    if isinstance(spec, Iterable) and not isinstance(spec, Mapping | bytes):
        values = [v.item() if isinstance(v, np.generic) else v for v in spec]
        if not values:
            raise ConfigError(key, spec, "at least one value")
        return values
    return [spec]


def _zip_groups(zip_spec: Any, keys: Sequence[str]) -> list[list[str]]:
    """Normalise ``zip``: None, ``["a", "b"]`` (one group), ``["a,b", "c,d"]`` or
    ``[["a", "b"], ["c", "d"]]`` (several groups)."""
    if zip_spec is None or zip_spec == []:
        return []
    if isinstance(zip_spec, str):
        zip_spec = [zip_spec]
    items = list(zip_spec)
    if all(isinstance(z, str) and "," not in z for z in items):
        groups = [items]
    else:
        groups = [z.split(",") if isinstance(z, str) else list(z) for z in items]
    groups = [[k.strip() for k in g] for g in groups]
    seen: set[str] = set()
    for group in groups:
        for key in group:
            if key not in keys:
                raise ConfigError("zip", key, f"a key that is varied ({', '.join(keys) or 'none'})")
            if key in seen:
                raise ConfigError("zip", key, "each key in one zip group only")
            seen.add(key)
    # Each group in vary's order: it takes the place of its first key in the product.
    return [sorted(g, key=keys.index) for g in groups]


@dataclass(frozen=True)
class SweepPlan:
    """A validated sweep: its points (dicts of varied values), tasks and identity."""

    keys: tuple[str, ...]
    points: tuple[dict[str, Any], ...]
    reps: int
    tasks: tuple[Task, ...]
    identity: dict[str, Any]


def _coerce_config(base_config: Any) -> Any:
    """A Config from a Config, None (defaults), a TOML path or a plain dict."""
    if base_config is None or isinstance(base_config, str | Path | Mapping):
        from sim.config.schema import Config

        if base_config is None:
            return Config.default()
        if isinstance(base_config, Mapping):
            return Config.from_dict(dict(base_config))
        return Config.load(base_config)
    return base_config


def plan_sweep(base_config: Any, vary: Mapping[str, Any] | None = None, reps: int = 1,
               zip: Any = None, run_fn: RunFn | None = None) -> SweepPlan:
    """Expand and validate a sweep without running it.

    Every point's config is built here, so an unknown key or a bad value stops the sweep before
    any run with one ConfigError naming the key.
    """
    base = _coerce_config(base_config)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise ConfigError("reps", reps, "a whole number >= 1")
    vary = dict(vary or {})
    keys = tuple(vary)
    values = {key: expand_values(key, spec, base.get(key)) for key, spec in vary.items()}
    groups = _zip_groups(zip, keys)
    for group in groups:
        lengths = {key: len(values[key]) for key in group}
        if len(set(lengths.values())) > 1:
            raise ConfigError("zip", ",".join(group),
                              f"keys varied together need as many values each (got {lengths})")
    # Factors of the cartesian product, in the order their first key appears in vary.
    factors: list[tuple[list[str], list[tuple[Any, ...]]]] = []
    for key in keys:
        group = next((g for g in groups if key in g), [key])
        if group[0] == key:
            factors.append((group, list(builtins.zip(*(values[k] for k in group), strict=True))))
    points = []
    for combo in itertools.product(*(rows for _, rows in factors)):
        point: dict[str, Any] = {}
        for (group, _), row in builtins.zip(factors, combo, strict=True):
            point.update(builtins.zip(group, row, strict=True))
        points.append({key: point[key] for key in keys})
    tasks = []
    for index, point in enumerate(points):
        config = base.with_overrides(point) if point else base
        for rep in range(reps):
            seed = derive_seed(config.get("run.seed"), rep)
            tasks.append(Task(index, rep, seed, point, config.with_overrides({"run.seed": seed}),
                              run_fn))
    identity = {"base_config": base.to_dict(),
                "grid": {"vary": values, "zip": groups, "reps": reps, "points": len(points)}}
    return SweepPlan(keys, tuple(points), reps, tuple(tasks), identity)


SECONDS_SUFFIX = "_s"


def _seconds(value: Any, key: str) -> float:
    """A duration cell ("1ms", 0.001, "exp:1ms") as seconds (a distribution's mean)."""
    from sim.config.distributions import parse_distribution

    if value is None or (isinstance(value, float) and np.isnan(value)):
        return np.nan
    try:
        return float(parse_distribution(value, key).mean)
    except (ConfigError, ValueError, TypeError, OSError):  # an empirical file not at hand
        return np.nan


def add_seconds_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Give every duration column (``replication.delay``: ``"1ms"``, ``"exp:5ms"``) a numeric
    twin in seconds right after it (``replication.delay_s``, the mean of a distribution), to
    regress, plot or filter on. The frame is changed in place and returned."""
    from sim.config.schema import duration_keys

    for key in [c for c in duration_keys() if c in frame.columns]:
        twin = f"{key}{SECONDS_SUFFIX}"
        values = [_seconds(v, key) for v in frame[key]]
        if twin in frame.columns:
            frame[twin] = values
        else:
            frame.insert(frame.columns.get_loc(key) + 1, twin, values)
    return frame


def _frame(rows: list[Row], keys: Sequence[str]) -> pd.DataFrame:
    frame = rows_frame(sorted(rows, key=lambda r: (int(r["point"]), int(r["rep"]))))
    frame.attrs["vary"] = list(keys)
    return add_seconds_columns(frame)


def sweep(base_config: Any = None, vary: Mapping[str, Any] | None = None, reps: int = 1,
          zip: Any = None, out: str | Path | None = None, executor: str = "processes",
          scheduler: Any = None, workers: int | None = None, progress: bool = True,
          run_fn: RunFn | None = None, formats: Sequence[str] = ("csv",)) -> pd.DataFrame:
    """Run every point of a grid ``reps`` times and return one row per run, ordered by
    (point, rep) whatever the executor.

    base_config: a Config, a TOML path, a dict, or None for the defaults.
    vary: ``{"section.key": values}``; values as in :func:`expand_values`.
    zip: keys of ``vary`` that vary together instead of across (see :func:`_zip_groups`).
    out: a directory for ``results.csv`` and ``meta.json``; rerunning the same sweep into it
        resumes (runs already written are not recomputed; failed ones are tried again); a
        different base config or grid there raises ConfigError.
    executor: ``"serial"``, ``"processes"`` (one worker per core unless ``workers``) or
        ``"dask"`` (``scheduler`` = ``"tcp://host:8786"`` or a ``distributed.Client``; without
        it a LocalCluster on 127.0.0.1 is started and closed).
    progress: a progress bar (or plain lines when stderr is not a terminal) on stderr.
    run_fn: ``config -> Result`` (or summary dict) to run instead of the engine; it must be
        picklable for the process and Dask executors.
    formats: with ``out``, ``"parquet"`` also writes ``DIR/results.parquet`` (the returned
        frame) when the sweep completes; ``results.csv``, appended run by run, is always
        written because it is what an interrupted sweep resumes from. Needs pyarrow.

    The frame has, after each duration column, its twin in seconds (see
    :func:`add_seconds_columns`).
    """
    plan = plan_sweep(base_config, vary, reps, zip, run_fn)
    check_executor(executor, workers, scheduler)
    check_formats(formats)
    store = SweepDir.open(out, plan.identity, executor, workers) if out is not None else None
    done = store.done() if store is not None else set()
    pending = [t for t in plan.tasks if (t.point, t.rep) not in done]
    rows: list[Row] = []
    bar = Progress(len(plan.tasks), len(plan.tasks) - len(pending), enabled=progress)
    status = "interrupted"
    try:
        with contextlib.closing(execute(pending, executor, workers, scheduler)) as results:
            for row in results:
                if store is not None:
                    store.append(row)
                else:
                    rows.append(row)
                bar.update()
        status = "complete"
    finally:
        bar.close(complete=status == "complete")
        if store is not None:
            store.close(status)
    if store is None:
        return _frame(rows, plan.keys)
    frame = load_sweep(store.path)
    if "parquet" in formats:
        write_parquet(frame, store.path / PARQUET_NAME)
    return frame


FORMATS = ("csv", "parquet")


def check_formats(formats: Sequence[str]) -> None:
    """ConfigError for an unknown format, or for parquet without pyarrow installed."""
    for fmt in formats:
        if fmt not in FORMATS:
            raise ConfigError("format", fmt, "one of " + ", ".join(FORMATS))
    if "parquet" in formats:
        try:
            import pyarrow  # noqa: F401
        except ImportError:
            raise ConfigError("format", "parquet", "needs pyarrow: pip install 'repsim[parquet]'"
                              " (or use --format csv)") from None


def load_sweep(directory: str | Path) -> pd.DataFrame:
    """The results of a sweep directory as a DataFrame in (point, rep) order, also while the
    sweep is running or after it was interrupted (``attrs["vary"]`` names the varied keys,
    from ``meta.json``)."""
    directory = Path(directory)
    frame = read_results(directory).sort_values(["point", "rep"], ignore_index=True)
    meta_path = directory / "meta.json"
    if meta_path.exists():
        frame.attrs["vary"] = list(read_json(meta_path)["grid"]["vary"])
    return add_seconds_columns(frame)


def failed(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs that failed (non-empty ``error``)."""
    if ERROR_COLUMN not in frame.columns:
        return frame.iloc[0:0]
    return frame[frame[ERROR_COLUMN].fillna("").astype(str) != ""]
