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
import csv
import errno
import io
import itertools
import math
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config.numeric import NUMBER_PATTERN, NUMBER_RULES, read_number
from sim.errors import ConfigError
from sim.experiment.executors import Progress, check_executor, execute
from sim.experiment.store import (
    PARQUET_NAME,
    SweepDir,
    head_cells,
    read_json,
    read_results,
    rows_frame,
    write_parquet,
)
from sim.experiment.task import ERROR_COLUMN, Row, RunFn, Task, derive_seed

__all__ = ["sweep", "plan_sweep", "run_plan", "expand_values", "split_values", "SweepPlan",
           "DEFAULT_MAX_RUNS", "add_seconds_columns", "load_sweep"]

_RANGE = re.compile(r"^(log|lin):([^:]+):([^:]+):([^:]+)$")
_NUMBER_UNIT = re.compile(rf"^({NUMBER_PATTERN})\s*([a-zA-Z]*)$", re.ASCII)
_NAMED_PARAM = re.compile(r"^[A-Za-z_]\w*\s*=")
# Grids with at least this many points report progress while they are checked (about a
# second's work).
_PLAN_PROGRESS_FROM = 5_000


def parse_scalar(text: str) -> Any:
    """A value typed on the command line, read as ``--set`` reads one
    (:func:`sim.config.schema.parse_override_value`)."""
    from sim.config.schema import parse_override_value

    return parse_override_value(text)


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


def _parse_range(key: str, spec: str, match: re.Match[str],
                 limit: int | None = None) -> tuple[list[float], str]:
    """Numbers of ``log:a:b:n`` / ``lin:a:b:n`` and the endpoints' common unit (or "")."""
    kind, lo_text, hi_text, n_text = (g.strip() for g in match.groups())
    allowed = (f"{kind}:START:STOP:COUNT with numbers (or durations in one unit, like 1ms:20ms)"
               + (" > 0" if kind == "log" else "") + " and a whole COUNT >= 1")
    ends = [_NUMBER_UNIT.match(t) for t in (lo_text, hi_text)]
    count = read_number(n_text) if n_text.isascii() and n_text.isdigit() else None
    if not all(ends) or count is None or count < 1:
        raise ConfigError(key, spec, allowed)
    lo, hi = (read_number(m.group(1)) for m in ends if m)
    lo_unit, hi_unit = (m.group(2) for m in ends if m)
    if (lo is None or hi is None or lo_unit != hi_unit
            or (kind == "log" and (lo <= 0 or hi <= 0))):
        raise ConfigError(key, spec, f"{allowed}, {NUMBER_RULES}")
    lo, hi = float(lo), float(hi)
    if limit is not None and count > limit:  # before numpy allocates COUNT numbers
        raise ConfigError(key, spec, f"a COUNT of at most {limit:,}, the most runs a sweep may "
                          "have (sweep.max_runs: raise it with repsim sweep --max-runs N)")
    n = int(count)
    numbers = np.geomspace(lo, hi, n) if kind == "log" else np.linspace(lo, hi, n)
    return [float(x) for x in numbers], lo_unit


def expand_values(key: str, spec: Any, base_value: Any = None,
                  limit: int | None = None) -> list[Any]:
    """The list of values one ``vary`` entry stands for.

    ``spec`` is a list (taken as it is), a range string ``log:START:STOP:COUNT`` (log-spaced,
    both ends included) or ``lin:START:STOP:COUNT``, a comma list ``"1ms,5ms"``, or one value.
    Range values are ints when ``base_value`` (the key's default) is an int, else floats
    rounded to 6 significant digits; duration endpoints (``log:1ms:100ms:5``) give durations in
    the same unit (``"10ms"``). A range of more than ``limit`` values and an empty list are
    refused.
    """
    int_key = isinstance(base_value, int) and not isinstance(base_value, bool)
    if isinstance(spec, np.ndarray):
        spec = spec.tolist()
    if isinstance(spec, str):
        match = _RANGE.match(spec.strip())
        if match:
            numbers, unit = _parse_range(key, spec, match, limit)
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
        if not values:  # "[]"
            raise ConfigError(key, spec, "at least one value")
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
    """A Config from a Config, None (defaults), a TOML path or a plain dict (nested tables or
    dotted keys)."""
    if base_config is None or isinstance(base_config, str | Path | Mapping):
        from sim.config.schema import Config

        if base_config is None:
            return Config.default()
        if isinstance(base_config, Mapping):
            return Config.from_dict(dict(base_config))
        return Config.load(base_config)
    return base_config


#: Default bound on the runs of one sweep (points x repetitions); ``max_runs`` raises it.
DEFAULT_MAX_RUNS = 100_000


def _check_distinct(key: str, spec: Any, rows: list[tuple[Any, ...]],
                    parsed: list[tuple[Any, ...]]) -> None:
    """Refuse a value given twice, also when two spellings parse to one value (1ms, 0.001s):
    the two points would be the same experiment counted twice."""
    seen: dict[Any, tuple[Any, ...]] = {}
    for row, typed in builtins.zip(rows, parsed, strict=True):
        try:
            first = seen.setdefault(typed, row)
        except TypeError:  # an unhashable value (a list of fault records): compare by text
            first = seen.setdefault(repr(typed), row)
        if first is not row:
            shown = (f"{first[0]!r} and {row[0]!r}" if len(row) == 1
                     else f"{first!r} and {row!r}")
            raise ConfigError(key, spec, f"distinct values ({shown} are the same value)")


def plan_sweep(base_config: Any, vary: Mapping[str, Any] | None = None, reps: int = 1,
               zip: Any = None, run_fn: RunFn | None = None,
               max_runs: int = DEFAULT_MAX_RUNS, progress: bool = False) -> SweepPlan:
    """Expand and validate a sweep without running it.

    Every point's config is built here, so an unknown key, a bad value or a point that breaks
    a rule stops the sweep before any run with one ConfigError naming the key. A value given
    twice, an empty list and a grid of more than ``max_runs`` runs (points x ``reps``) are
    refused too, the last before anything is built. ``progress`` reports on stderr while
    the points of a large grid are checked.
    """
    from sim.config.schema import flat_settings, parse_value

    base = _coerce_config(base_config)
    if isinstance(reps, bool) or not isinstance(reps, int) or reps < 1:
        raise ConfigError("reps", reps, "a whole number >= 1")
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise ConfigError("sweep.max_runs", max_runs, "a whole number >= 1")
    vary = flat_settings(vary or {})
    keys = tuple(vary)
    values = {key: expand_values(key, spec, base.get(key), limit=max_runs)
              for key, spec in vary.items()}
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
    runs = math.prod(len(rows) for _, rows in factors) * reps
    if runs > max_runs:
        sizes = " x ".join(f"{len(rows):,}" for _, rows in factors)
        raise ConfigError("sweep.max_runs", max_runs,
                          f"exceeded by this sweep's {runs:,} runs ({sizes or 1} points x "
                          f"{reps} repetition{'s' if reps != 1 else ''}); narrow the grid or "
                          f"raise the limit (repsim sweep --max-runs {runs}, or "
                          "sweep(..., max_runs=N))")
    # Each distinct value is parsed once; a point then only replaces already typed fields.
    typed_factors = []
    for group, rows in factors:
        typed = [tuple(parse_value(k, v) for k, v in builtins.zip(group, row, strict=True))
                 for row in rows]
        _check_distinct(",".join(group), vary[group[0]] if len(group) == 1 else
                        [values[k] for k in group], rows, typed)
        typed_factors.append(typed)
    bar = Progress(runs // reps, enabled=progress and runs // reps >= _PLAN_PROGRESS_FROM,
                   desc="checking points", unit="point")
    points, tasks = [], []
    try:
        for combo, typed in builtins.zip(
                itertools.product(*(rows for _, rows in factors)),
                itertools.product(*typed_factors), strict=True):
            point: dict[str, Any] = {}
            parsed: dict[str, Any] = {}
            for (group, _), row, row_typed in builtins.zip(factors, combo, typed, strict=True):
                point.update(builtins.zip(group, row, strict=True))
                parsed.update(builtins.zip(group, row_typed, strict=True))
            point = {key: point[key] for key in keys}
            config = base.with_values(parsed) if parsed else base
            index = len(points)
            points.append(point)
            for rep in range(reps):
                seed = derive_seed(config.run.seed, rep)
                tasks.append(Task(index, rep, seed, point,
                                  config.with_values({"run.seed": seed}, check=False), run_fn))
            bar.update()
    finally:
        bar.close(complete=len(points) * reps == runs)
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
          run_fn: RunFn | None = None, max_runs: int = DEFAULT_MAX_RUNS,
          formats: Sequence[str] = ("csv",)) -> pd.DataFrame:
    """Run every point of a grid ``reps`` times and return one row per run, ordered by
    (point, rep) whatever the executor.

    base_config: a Config, a TOML path, a dict (nested ``{section: {key: value}}`` or dotted
        ``{"section.key": value}``, not a mix), or None for the defaults.
    vary: ``{"section.key": values}`` (or nested the same way); values as in
        :func:`expand_values`.
    zip: keys of ``vary`` that vary together instead of across (see :func:`_zip_groups`).
    out: a directory for ``results.csv`` and ``meta.json``; rerunning the same sweep into it
        resumes (runs already written are not recomputed; failed ones are tried again; rows
        that do not match the plan are moved to ``quarantine.csv`` and computed again, and
        one line on stderr says so); a different base config or grid there raises
        ConfigError.
    executor: ``"serial"``, ``"processes"`` (one worker per core unless ``workers``) or
        ``"dask"`` (``scheduler`` = ``"tcp://host:8786"`` or a ``distributed.Client``; without
        it a LocalCluster on 127.0.0.1 is started and closed).
    progress: a progress bar (or plain lines when stderr is not a terminal) on stderr.
    run_fn: ``config -> Result`` (or summary dict) to run instead of the engine; it must be
        picklable for the process and Dask executors.
    max_runs: the most runs (points x reps) the sweep may have; a larger grid raises
        ConfigError before anything is computed or written (default 100,000).
    formats: with ``out``, ``"parquet"`` also writes ``DIR/results.parquet`` (the returned
        frame) when the sweep completes; ``results.csv``, appended run by run, is always
        written because it is what an interrupted sweep resumes from. Needs pyarrow.

    The frame has, after each duration column, its twin in seconds (see
    :func:`add_seconds_columns`).
    """
    check_formats(formats)
    plan = plan_sweep(base_config, vary, reps, zip, run_fn, max_runs=max_runs,
                      progress=progress)
    return run_plan(plan, out, executor, scheduler, workers, progress, formats)


def _expected(plan: SweepPlan) -> dict[tuple[int, int], dict[str, str]]:
    """The cells each run's row must start with, by (point, rep)."""
    values = [head_cells(0, 0, 0, point) for point in plan.points]  # once per point
    return {(t.point, t.rep): {**values[t.point], "point": str(t.point), "rep": str(t.rep),
                               "seed": str(t.seed)} for t in plan.tasks}


def _write_failed(out: Path, exc: OSError, kept: int) -> ConfigError:
    """One line for a results file that could not be written (a full disk, most often)."""
    full = exc.errno in (errno.ENOSPC, errno.EDQUOT)
    return ConfigError("out", str(out), f"a directory the results can be written to (writing "
                       f"failed: {exc.strerror or exc}); the {kept} runs finished so far are "
                       f"kept: {'free some space' if full else 'fix that'} and rerun the same "
                       "command to resume")


def run_plan(plan: SweepPlan, out: str | Path | None = None, executor: str = "processes",
             scheduler: Any = None, workers: int | None = None,
             progress: bool = True, formats: Sequence[str] = ("csv",)) -> pd.DataFrame:
    """Run the tasks of ``plan`` (see :func:`sweep`, which plans and calls this)."""
    check_executor(executor, workers, scheduler)
    check_formats(formats)
    store = None
    if out is not None:
        store = SweepDir.open(out, plan.identity, executor, workers, _expected(plan))
        if store.set_aside:
            sys.stderr.write(f"repsim sweep: {store.set_aside}\n")
    done = store.done() if store is not None else set()
    pending = [t for t in plan.tasks if (t.point, t.rep) not in done]
    rows: list[Row] = []
    bar = Progress(len(plan.tasks), len(plan.tasks) - len(pending), enabled=progress)
    status = "interrupted"
    try:
        with contextlib.closing(execute(pending, executor, workers, scheduler)) as results:
            for row in results:
                if store is not None:
                    try:
                        store.append(row)
                    except OSError as exc:
                        raise _write_failed(store.path, exc, len(store.results.rows)) from None
                else:
                    rows.append(row)
                bar.update()
        status = "complete"
    finally:
        bar.close(complete=status == "complete")
        if store is not None:
            try:
                store.close(status)
            except OSError as exc:
                if status == "complete":  # else the first error is the one to tell
                    raise _write_failed(store.path, exc, len(store.results.rows)) from None
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


def foreign_rows(directory: str | Path) -> str:
    """Rows of a sweep directory's ``results.csv`` that its ``meta.json`` sweep would not
    have written (edited, copied in, duplicated), summarised in a few words; "" when every
    row matches or the plan cannot be rebuilt here (a file it used is gone, say). Reads
    only: a resumed sweep is what moves such rows aside."""
    from sim.experiment.store import RESULTS_NAME
    from sim.experiment.verify import check_rows, summary

    directory = Path(directory)
    try:
        meta = read_json(directory / "meta.json")
        grid = meta["grid"]
        plan = plan_sweep(meta["base_config"], grid["vary"], grid["reps"], grid["zip"] or None,
                          max_runs=max(grid["points"] * grid["reps"], 1))
        schema = meta["columns"]
    except (OSError, ValueError, KeyError, TypeError):
        return ""
    data = (directory / RESULTS_NAME).read_bytes()
    records = list(csv.reader(io.StringIO(data[: data.rfind(b"\n") + 1].decode(
        errors="replace"))))
    if not records:
        return ""
    columns = records[0]
    rows = [dict(builtins.zip(columns, rec, strict=True)) for rec in records[1:]
            if len(rec) == len(columns)]
    _, aside = check_rows(columns, rows, schema, _expected(plan))
    wrong_width = len(records) - 1 - len(rows)
    parts = [summary(aside)] if aside else []
    if wrong_width:
        parts.append(f"{wrong_width} of the wrong width")
    return ", ".join(parts)


def failed(frame: pd.DataFrame) -> pd.DataFrame:
    """The rows of runs that failed (non-empty ``error``)."""
    if ERROR_COLUMN not in frame.columns:
        return frame.iloc[0:0]
    return frame[frame[ERROR_COLUMN].fillna("").astype(str) != ""]
