"""Files of a sweep directory: ``results.csv`` and ``meta.json``, written so they survive a kill.

The guarantees (docs/design.md section 5: "never leaves a half-written file"):

- ``results.csv`` grows by whole rows: each row is one complete line handed to the kernel in a
  single ``os.write`` on a file opened with ``O_APPEND``, so a ``kill -9`` can at worst leave a
  trailing partial line, which :meth:`ResultsFile.open` drops before anything else is appended.
- Every rewrite (the header, a header that gains a column, the final sorted file) and every
  ``meta.json`` goes to a temporary file in the same directory first and is moved into place with
  ``os.replace``, which is atomic on POSIX: a reader sees the old file or the new one. A
  temporary file a kill left behind is deleted when the sweep resumes.
- One sweep at a time writes into a directory: it holds a lock on ``DIR/.lock`` while it runs.
- A row is never half-kept: an append that fails (a full disk) cuts what it wrote.
- A resumed sweep keeps only rows that match its plan and the row schema in ``meta.json``
  (see :mod:`sim.experiment.verify`); the others are moved, never deleted, to
  ``quarantine.csv`` with the reason.

Values are plain scalars (int, float, str, bool, None). Strings are kept on one line (newlines
become spaces) because a line is the unit of atomicity.
"""

from __future__ import annotations

import contextlib
import csv
import errno
import fcntl
import io
import json
import math
import os
import platform
import tempfile
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config.schema import Config
from sim.errors import ConfigError
from sim.experiment.verify import check_rows, infer_schema, summary, update_schema
from sim.provenance import provenance

RESULTS_NAME = "results.csv"
PARQUET_NAME = "results.parquet"
META_NAME = "meta.json"
LOCK_NAME = ".lock"
QUARANTINE_NAME = "quarantine.csv"
#: Columns of a quarantined row added to the row as it was: why, and when it was set aside.
REASON_COLUMN, SET_ASIDE_COLUMN = "quarantine_reason", "quarantined_at"
ID_COLUMNS = ("point", "rep", "seed")

Row = dict[str, Any]


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` through a temporary file and ``os.replace`` (all or nothing)."""
    path = Path(path)
    # mkstemp makes the file private (0600); results are meant to be read by others, so give
    # the file the mode of the one it replaces, or the usual mode under the umask.
    mode = path.stat().st_mode & 0o777 if path.exists() else 0o666 & ~_umask()
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        # Leave no temporary file behind, whatever went wrong (including Ctrl-C).
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON to ``path`` atomically."""
    text = json.dumps(obj, indent=2, sort_keys=False, default=str) + "\n"
    write_atomic(path, text.encode())


def write_parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write ``frame`` as Parquet (pyarrow) to ``path`` atomically."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, engine="pyarrow", index=False)
    write_atomic(path, buffer.getvalue())


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text())


def _cell(value: Any) -> Any:
    """A value as it goes into a CSV cell: None and NaN as empty, strings on one line."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    if isinstance(value, str):
        return value.replace("\r", " ").replace("\n", " ")
    # repr of a float is the shortest string that reads back to the same float.
    return value


def _line(values: Iterable[Any]) -> bytes:
    """One CSV line (with its newline) for ``values``."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerow([_cell(v) for v in values])
    return buf.getvalue().encode()


def _csv(columns: list[str], rows: Iterable[Row]) -> bytes:
    """A whole CSV file: the header ``columns``, then one line per row (missing cells empty)."""
    return _line(columns) + b"".join(_line(row.get(c) for c in columns) for row in rows)


class ResultsFile:
    """The append-only ``results.csv`` of one sweep directory.

    The header is the union of the columns seen so far, in first-seen order. A row that brings
    a new column (the first successful row after an error row, say) makes the file be rewritten
    atomically with the wider header; that happens a handful of times per sweep at most.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.columns: list[str] = []
        self.rows: list[Row] = []
        self.malformed: list[list[str]] = []

    @classmethod
    def open(cls, path: Path) -> ResultsFile:
        """Open ``path`` for appending, loading the whole rows it already holds.

        A trailing partial line (the mark of a kill during a write) is dropped, and so is any
        line whose number of fields does not match the header.
        """
        self = cls(path)
        if not self.path.exists():
            return self
        data = self.path.read_bytes()
        complete = data[: data.rfind(b"\n") + 1]
        records = list(csv.reader(io.StringIO(complete.decode(errors="replace"))))
        if records:
            self.columns = records[0]
            width = len(self.columns)
            self.rows = [_parse_record(self.columns, rec) for rec in records[1:] if len(rec) == width]
            # Lines of another width were not written by a sweep: kept aside by the caller.
            self.malformed = [rec for rec in records[1:] if len(rec) != width]
        if complete != data:
            self.rewrite(self.rows)
        return self

    def rewrite(self, rows: list[Row], columns: list[str] | None = None) -> None:
        """Replace the file's rows by ``rows`` (atomically), keeping the known columns, or
        with the columns in the order ``columns`` when given."""
        if columns is not None:
            self.columns = list(columns)
        for row in rows:
            self._add_columns(row)
        self.rows = list(rows)
        write_atomic(self.path, _csv(self.columns, self.rows))

    def append(self, row: Row) -> None:
        """Append one row as one whole line (widening the header first when it must)."""
        if not self.columns or any(key not in self.columns for key in row):
            self.rewrite([*self.rows, row])
            return
        line = _line(row.get(c) for c in self.columns)
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND)
        try:
            size = os.fstat(fd).st_size
            try:
                # One write call for the whole line: a kill leaves either all of it or a tail
                # that has no newline, which open() recognises and drops.
                written = os.write(fd, line)
                if written != len(line):  # a full disk takes part of the line
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(self.path))
                os.fsync(fd)
            except OSError:
                # A full disk: cut the part of the line that went in, so that no reader ever
                # sees it (truncating frees space, so this works on a full disk).
                with contextlib.suppress(OSError):
                    os.ftruncate(fd, size)
                raise
        finally:
            os.close(fd)
        self.rows.append(row)

    def _add_columns(self, row: Mapping[str, Any]) -> None:
        for key in row:
            if key not in self.columns:
                self.columns.append(key)


def _parse_record(columns: list[str], record: list[str]) -> Row:
    """Turn one CSV record back into a row of str values (types come from :func:`read_results`)."""
    return dict(zip(columns, record, strict=True))


def canonical_columns(rows: list[Row]) -> list[str]:
    """The column order of a finished sweep, the same whatever order the runs finished in and
    however often the sweep was resumed.

    Columns as first seen in ``rows`` (already in (point, rep) order), successful rows first so
    the metrics keep the summary's order, then ``wall_seconds`` and ``error``. Those two are
    placed by name because a file whose first row was a failure has them before the metrics.
    """
    columns: dict[str, None] = {}
    for row in [r for r in rows if not r.get("error")] + [r for r in rows if r.get("error")]:
        columns.update(dict.fromkeys(row))
    wall = ["wall_seconds"] if "wall_seconds" in columns else []
    for name in ("wall_seconds", "error"):
        columns.pop(name, None)
    return [*columns, *wall, "error"]


def cell_text(value: Any) -> str:
    """The text of ``value`` in a CSV cell, as the csv module reads it back."""
    return next(csv.reader([_line([value]).decode()]))[0]


def head_cells(point: int, rep: int, seed: int, values: Mapping[str, Any]) -> dict[str, str]:
    """The cells a run's row starts with, as text: what a resumed sweep checks rows against."""
    return {"point": str(point), "rep": str(rep), "seed": str(seed),
            **{key: cell_text(value) for key, value in values.items()}}


def quarantine(path: Path, aside: list[tuple[Row, tuple[str, str]]]) -> None:
    """Add rows a resumed sweep would not keep to the file ``path`` (atomically, after the
    rows already there), each with why and when: nothing a user wrote is ever deleted."""
    file = ResultsFile.open(path)
    now = _now()
    rows = [{**row, REASON_COLUMN: f"{category}: {detail}", SET_ASIDE_COLUMN: now}
            for row, (category, detail) in aside]
    file.rewrite([*file.rows, *rows])


def read_results(path: Path | io.BytesIO) -> pd.DataFrame:
    """Read a ``results.csv`` (a file, its directory, or its bytes) into a DataFrame, floats
    exactly as written.

    The ``error`` column is an empty string for runs that succeeded.
    """
    if not isinstance(path, io.BytesIO):
        path = Path(path)
        if path.is_dir():
            path = path / RESULTS_NAME
        data = path.read_bytes()
        # A sweep killed while appending can leave the start of a row without its newline
        # (dropped when it resumes): readers meanwhile see the whole rows only.
        path = io.BytesIO(data[: data.rfind(b"\n") + 1])
    # pandas' default parser reads back the shortest-repr floats the writer produced exactly.
    df = pd.read_csv(path)
    if "error" in df.columns:
        df["error"] = ["" if pd.isna(v) else str(v) for v in df["error"]]
    return df


def rows_frame(rows: list[Row]) -> pd.DataFrame:
    """``rows`` as a DataFrame typed exactly as :func:`read_results` reads them from a file
    (a metric that is null in every row is a float column of NaN, not objects), so a sweep
    returns the same frame whether or not it writes a directory."""
    return read_results(io.BytesIO(_csv(canonical_columns(rows), rows)))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def package_versions() -> dict[str, str | None]:
    """Versions of Python and of the packages a result depends on (None when not installed)."""
    versions: dict[str, str | None] = {"python": platform.python_version()}
    for name in ("repsim", "simpy", "numpy", "pandas", "dask", "distributed"):
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _plain(obj: Any) -> Any:
    """``obj`` as JSON would give it back (tuples as lists), for comparisons with a file."""
    return json.loads(json.dumps(obj, default=str))


def _flat(obj: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(obj, dict):
        out: dict[str, Any] = {}
        for key, value in obj.items():
            out.update(_flat(value, f"{prefix}{key}."))
        return out
    return {prefix.rstrip("."): obj}


def _difference(old: Any, new: Any) -> str:
    """A short text naming the first few dotted keys where two nested dicts differ."""
    a, b = _flat(old), _flat(new)
    keys = [k for k in dict.fromkeys([*a, *b]) if a.get(k, "<unset>") != b.get(k, "<unset>")]
    parts = [f"{k}: {a.get(k, '<unset>')!r} before, {b.get(k, '<unset>')!r} now" for k in keys[:3]]
    more = f" and {len(keys) - 3} more" if len(keys) > 3 else ""
    return "; ".join(parts) + more


def added_at_defaults(old: Any, new: Mapping[str, Any]) -> list[str] | None:
    """The dotted keys that ``new`` (a base configuration) has and ``old`` lacks, when that
    is all that tells them apart and each of those keys is at its default: the keys a newer
    repsim added, whose defaults leave every earlier run as it was (a new setting is off by
    default). None when the two differ otherwise."""
    if not isinstance(old, dict):
        return None
    a, b = _flat(old), _flat(new)
    if any(key not in b or b[key] != value for key, value in a.items()):
        return None
    default = _flat(_plain(Config.default().to_dict()))
    added = [key for key in b if key not in a]
    if any(key not in default or default[key] != b[key] for key in added):
        return None
    return added


def grows(old: Any, new: Mapping[str, Any]) -> bool:
    """Whether the sweep grid ``new`` holds every run of ``old``: the same varied keys in the
    same zip groups, every old value (every old tuple of a zip group) still there, in any
    order, and at least as many repetitions. Then the rows already written are runs of the
    new plan, with the same values and seeds, and are kept."""
    if not isinstance(old, dict) or set(old) != set(new):
        return False
    old_vary, new_vary = old.get("vary"), new["vary"]
    if not isinstance(old_vary, dict) or list(old_vary) != list(new_vary):
        return False
    if old.get("zip") != new["zip"] or not isinstance(old.get("reps"), int):
        return False
    zipped = {key for group in new["zip"] for key in group}
    groups = [*new["zip"], *([key] for key in new_vary if key not in zipped)]

    def tuples(vary: dict[str, Any], group: list[str]) -> set[str]:
        rows = zip(*(vary[k] for k in group), strict=True)
        return {json.dumps(row, sort_keys=True) for row in rows}

    return old["reps"] <= new["reps"] and all(
        tuples(old_vary, g) <= tuples(new_vary, g) for g in groups)


def _lock(path: Path) -> int:
    """Lock the sweep directory ``path`` for this process; return the lock file's descriptor.

    Two sweeps writing into one directory at once would compute the same runs twice and each
    rewrite the file under the other, so the second is refused. A POSIX record lock is released
    by the kernel when its process ends, however it ends (no stale lock after a ``kill -9``),
    and, unlike ``flock``, is not inherited by forked worker processes.
    """
    fd = os.open(path / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        raise ConfigError("out", str(path),
                          f"a directory no other sweep is writing to (process {holder or '?'} "
                          "is running a sweep there now; wait for it, or choose another --out)"
                          ) from None
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())
    return fd


def _remove_leftovers(path: Path) -> None:
    """Delete the temporary files of an atomic write that a killed sweep left behind."""
    for name in (RESULTS_NAME, META_NAME):
        for leftover in path.glob(f".{name}.*.tmp"):
            leftover.unlink(missing_ok=True)


class SweepDir:
    """A sweep's output directory: its identity in ``meta.json`` and its ``results.csv``.

    ``identity`` is ``{"base_config": {...}, "grid": {...}}``; a directory holding a sweep with
    another identity is refused (ConfigError) rather than mixing two experiments in one file,
    and so is a directory another running sweep is writing to (see :func:`_lock`).
    Rows with an ``error`` are dropped when a sweep resumes, so failed points are tried again;
    rows that do not match the plan are moved to ``quarantine.csv`` (see ``open``).
    """

    def __init__(self, path: Path, meta: dict[str, Any], results: ResultsFile,
                 lock: int) -> None:
        self.path = path
        self.meta = meta
        self.results = results
        self._lock_fd = lock
        self.keys: list[str] = list(meta.get("grid", {}).get("vary", {}))
        #: One line saying which rows a resume moved to the quarantine file, or "".
        self.set_aside = ""
        self._has_ok: bool | None = None  # does the file hold a successful row yet?

    @property
    def meta_path(self) -> Path:
        return self.path / META_NAME

    @classmethod
    def open(cls, path: Path | str, identity: Mapping[str, Any], executor: str,
             workers: int | None,
             expected: Mapping[tuple[int, int], Mapping[str, str]] | None = None) -> SweepDir:
        """Create ``path`` or reopen it to resume; raise ConfigError if it holds another sweep.

        ``expected`` maps each run ``(point, rep)`` of the plan to the cells its row starts
        with (:func:`head_cells`); rows that do not match it are set aside (``set_aside``)."""
        path = Path(path)
        if path.exists() and not path.is_dir():
            raise ConfigError("out", str(path), "a directory (this is a file)")
        try:
            path.mkdir(parents=True, exist_ok=True)
            lock = _lock(path)
        except OSError as exc:
            raise ConfigError("out", str(path),
                              f"a directory this user can write to ({exc.strerror})") from exc
        try:
            return cls._open_locked(path, lock, identity, executor, workers, expected)
        except BaseException:
            os.close(lock)
            raise

    @classmethod
    def _open_locked(cls, path: Path, lock: int, identity: Mapping[str, Any], executor: str,
                     workers: int | None,
                     expected: Mapping[tuple[int, int], Mapping[str, str]] | None
                     ) -> SweepDir:
        _remove_leftovers(path)
        identity = _plain(dict(identity))
        grown = False
        added: list[str] | None = None  # keys a newer repsim added, at their defaults
        meta_path, results_path = path / META_NAME, path / RESULTS_NAME
        if meta_path.exists():
            try:
                meta = read_json(meta_path)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ConfigError("out", str(path), f"a sweep directory whose {META_NAME} is "
                                  f"readable JSON ({exc}); choose another --out") from exc
            for part in ("base_config", "grid"):
                if meta.get(part) == identity[part]:
                    continue
                if part == "grid" and grows(meta.get("grid"), identity["grid"]):
                    grown = True
                    continue
                if part == "base_config":
                    added = added_at_defaults(meta.get(part), identity[part])
                    if added is not None:
                        continue
                raise ConfigError(
                    "out", str(path),
                    f"holds a different sweep ({part.replace('_', ' ')} differs: "
                    f"{_difference(meta.get(part), identity[part])}); to resume or grow it, "
                    "rerun the same sweep, with more --reps or more values of the same keys "
                    "if you like; otherwise choose another --out or remove the directory")
        elif results_path.exists():
            raise ConfigError("out", str(path), "a new directory or one written by a sweep "
                              "(it has results.csv but no meta.json)")
        else:
            meta = {**identity, **provenance(), "versions": package_versions(),
                    "started": _now(), "finished": None, "status": "running", "runs": [],
                    "columns": {}}
        session = {"started": _now(), "finished": None, "executor": executor,
                   "workers": workers, "computed": 0, **provenance(),
                   "versions": package_versions()}
        if added:
            # Made by an older repsim: the keys added since sit at their defaults, which
            # reproduce what it ran, so its rows are this sweep's rows.
            session["keys_added_since"] = added
            meta["base_config"] = identity["base_config"]
        if grown:
            # The rows already there are runs of the larger plan: same base, same values,
            # same seeds; only their point numbers move to the larger grid's.
            session["grew_from"] = meta["grid"]
            meta["grid"] = identity["grid"]
        meta["runs"].append(session)
        meta["status"], meta["finished"] = "running", None
        self = cls(path, meta, ResultsFile.open(results_path), lock)
        if grown and expected is not None:
            self._renumber(expected)
        if expected is not None:
            self._verify(expected, self.keys)
        elif any(r.get("error") for r in self.results.rows):  # failed runs are retried
            self.results.rewrite([r for r in self.results.rows if not r.get("error")])
        self.meta.setdefault("columns", {})
        write_json_atomic(meta_path, meta)
        return self

    def _verify(self, expected: Mapping[tuple[int, int], Mapping[str, str]],
                keys: Iterable[str]) -> None:
        """Keep only the rows this sweep would have written (see :mod:`sim.experiment.verify`);
        move the others to ``quarantine.csv`` and drop failed rows (they are retried)."""
        results, keys = self.results, list(keys)
        if "columns" not in self.meta:
            self.meta["columns"] = infer_schema(results.columns, results.rows, keys)
        schema = self.meta["columns"]
        good, aside = check_rows(results.columns, results.rows, schema, expected)
        for record in results.malformed:
            aside.append(({"raw_line": _line(record).decode().rstrip("\n")},
                          ("of the wrong width", f"{len(record)} fields where the header has "
                           f"{len(results.columns)}")))
        if aside:
            self.set_aside = (f"{len(aside)} row{'s' if len(aside) != 1 else ''} of "
                              f"{results.path} did not match this sweep and "
                              f"{'were' if len(aside) != 1 else 'was'} moved to "
                              f"{self.path / QUARANTINE_NAME}: {summary(aside)}; "
                              "runs left without a row are computed again")
            quarantine(self.path / QUARANTINE_NAME, aside)
        if aside or len(good) != len(results.rows):
            known = {"point", "rep", "seed", *keys, *schema, "error"}
            results.rewrite(good, [c for c in results.columns if c in known])

    def _renumber(self, expected: Mapping[tuple[int, int], Mapping[str, str]]) -> None:
        """Give each row the point number its varied values have in the grown plan (a row
        whose values the plan lacks keeps its number, and verification sets it aside)."""
        keys = self.keys
        point_of = {tuple(cells[k] for k in keys): cells["point"]
                    for cells in expected.values()}
        for row in self.results.rows:
            number = point_of.get(tuple(row.get(k) for k in keys))
            if number is not None:
                row["point"] = number
        self.results.rewrite(self.results.rows)

    def done(self) -> set[tuple[int, int]]:
        """(point, rep) of the runs already in the file (successful ones)."""
        return {(int(r["point"]), int(r["rep"])) for r in self.results.rows}

    def append(self, row: Row) -> None:
        """Append one finished run (recording any new metric column in ``meta.json`` first,
        so that a resumed sweep knows every column its rows must have)."""
        if not row.get("error"):
            if self._has_ok is None:  # once: failed rows are the only ones kept aside
                self._has_ok = any(not r.get("error") for r in self.results.rows)
            if update_schema(self.meta["columns"], row, self.keys, not self._has_ok):
                write_json_atomic(self.meta_path, self.meta)
            self._has_ok = True
        self.results.append(row)
        run = self.meta["runs"][-1]
        run["computed"] = run.get("computed", 0) + 1

    def close(self, status: str = "complete") -> None:
        """Sort the rows by (point, rep), record the end of this run in ``meta.json`` and
        unlock the directory."""
        try:
            if status == "complete":
                rows = sorted(self.results.rows, key=lambda r: (int(r["point"]), int(r["rep"])))
                self.results.rewrite(rows, canonical_columns(rows))
            now = _now()
            self.meta["runs"][-1]["finished"] = now
            self.meta["status"] = status
            self.meta["finished"] = now if status == "complete" else None
            write_json_atomic(self.meta_path, self.meta)
        finally:
            os.close(self._lock_fd)
