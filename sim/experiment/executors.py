"""Executors that run sweep tasks, and the progress report on stderr.

Every executor yields rows in the order runs *finish*; the caller puts them in (point, rep)
order. A task whose worker itself dies (a crashed process, a lost Dask worker) still yields a
row, with the failure in its ``error`` column, so one bad point never stops a sweep.
"""

from __future__ import annotations

import math
import multiprocessing
import multiprocessing.connection
import os
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Any, TextIO

from sim.errors import ConfigError
from sim.experiment.task import Row, Task, error_row, error_text, run_task

EXECUTORS = ("serial", "processes", "dask")
CONNECT_TIMEOUT = "10s"  # how long to try reaching a Dask scheduler before giving up


def default_workers() -> int:
    """One worker per core this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def check_executor(executor: str, workers: int | None, scheduler: Any) -> None:
    """Raise ConfigError for an unknown executor, a bad worker count or a misplaced scheduler."""
    if executor not in EXECUTORS:
        raise ConfigError("executor", executor, f"one of {', '.join(EXECUTORS)}")
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise ConfigError("workers", workers, "a whole number >= 1")
    if scheduler is not None and executor != "dask":
        raise ConfigError("scheduler", scheduler, "only with executor 'dask'")


def execute(tasks: Sequence[Task], executor: str = "processes", workers: int | None = None,
            scheduler: Any = None) -> Iterator[Row]:
    """Run ``tasks`` on ``executor`` and yield one row per task as each finishes.

    ``workers`` defaults to one per core. ``scheduler`` (Dask only) is the address of a running
    scheduler (``"tcp://host:8786"``) or a ``distributed.Client``; without it a LocalCluster on
    127.0.0.1 is started for the sweep and closed after it.
    """
    check_executor(executor, workers, scheduler)
    if not tasks:
        return
    if executor == "serial":
        yield from (run_task(task) for task in tasks)
    elif executor == "processes":
        yield from _processes(tasks, workers or default_workers())
    else:
        yield from _dask(tasks, workers, scheduler)


def start_method() -> str:
    """How worker processes start: ``fork`` when this process has one thread (workers start in
    milliseconds), else ``forkserver``, since forking a process that has other threads (a Dask
    client's, a notebook kernel's) can deadlock."""
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and threading.active_count() == 1:
        return "fork"
    return "forkserver" if "forkserver" in methods else "spawn"


def _watch_parent() -> None:
    """Worker initializer: end this worker as soon as the sweep process that started it is gone.

    A killed sweep (``kill -9``) cannot shut its pool down, and its workers never see the end
    of their task queue (each holds a copy of the queue's write end), so without this they
    would sit idle for ever, holding their memory. ``parent_process().sentinel`` becomes
    readable when the parent exits, with every start method.
    """
    parent = multiprocessing.parent_process()
    if parent is None:  # pragma: no cover - only ever an initializer of a child process
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="repsim-parent-watch", daemon=True).start()


def _start_worker(filters: list) -> None:
    """Worker initializer: the sweep process's warning filters (a worker started by
    ``forkserver`` or ``spawn`` would have the defaults, and print what the command line
    turns into its one line), then :func:`_watch_parent`."""
    warnings.filters[:] = filters
    _watch_parent()


def _processes(tasks: Sequence[Task], workers: int) -> Iterator[Row]:
    method = start_method()
    pool = ProcessPoolExecutor(max_workers=min(workers, len(tasks)),
                               mp_context=multiprocessing.get_context(method),
                               initializer=_start_worker,
                               initargs=(list(warnings.filters),))
    try:
        futures = {pool.submit(run_task, task): task for task in tasks}
        for future in as_completed(futures):
            try:
                yield future.result()
            except Exception as exc:  # the worker process died: record it, go on
                yield error_row(futures[future], error_text(exc))
    finally:
        # On Ctrl-C or an abandoned generator: drop queued runs, do not wait for them.
        pool.shutdown(wait=True, cancel_futures=True)


def _dask(tasks: Sequence[Task], workers: int | None, scheduler: Any) -> Iterator[Row]:
    try:
        from distributed import Client, LocalCluster
        from distributed import as_completed as dask_completed
    except ImportError as exc:
        raise ConfigError("executor", "dask",
                          "needs dask.distributed: pip install 'repsim[cluster]'") from exc
    cluster = client = None
    own_client = not isinstance(scheduler, Client)
    try:
        if isinstance(scheduler, Client):
            client = scheduler
        elif scheduler:
            try:
                client = Client(scheduler, timeout=CONNECT_TIMEOUT)
            except OSError as exc:
                raise ConfigError("scheduler", scheduler,
                                  f"a reachable Dask scheduler address ({exc})") from exc
        else:
            cluster = _local_cluster(LocalCluster, workers or default_workers())
            client = Client(cluster)
        futures = {}
        for task in tasks:
            # A readable, unique key: the dashboard shows which point a worker is on.
            key = f"repsim-point{task.point}-rep{task.rep}-{uuid.uuid4().hex[:8]}"
            futures[client.submit(run_task, task, key=key, pure=False)] = task
        try:
            for future in dask_completed(futures):
                try:
                    yield future.result()
                except Exception as exc:  # a lost worker (KilledWorker) and the like
                    yield error_row(futures[future], error_text(exc))
        finally:
            client.cancel(list(futures))
    finally:
        if own_client and client is not None:
            client.close()
        if cluster is not None:
            cluster.close()


# Dask workers sample their threads' stacks every 10 ms for the dashboard's profile; on the
# deep call stacks of a simulation that costs a large share of the CPU (runs measured up to
# twice as slow), so a sweep's own cluster runs without it.
WORKER_CONFIG = {"distributed.worker.profile.enabled": False}


def _local_cluster(cluster_class: Any, workers: int) -> Any:
    """A LocalCluster of ``workers`` single-threaded worker processes on 127.0.0.1."""
    import dask

    with dask.config.set(WORKER_CONFIG):  # workers take the config they start with
        # Loopback only: a local cluster is nobody else's business (dashboard included).
        return cluster_class(n_workers=workers, threads_per_worker=1, processes=True,
                             host="127.0.0.1", dashboard_address="127.0.0.1:0")


class Progress:
    """Runs done, rate and ETA on ``stream`` (stderr).

    On a terminal this is a tqdm bar. Elsewhere (a log file, CI) it writes a plain line every
    10% of the runs or every ``every_s`` seconds, whichever comes first, so logs stay short.
    ``enabled=False`` writes nothing.
    """

    def __init__(self, total: int, initial: int = 0, enabled: bool = True,
                 stream: TextIO | None = None, every_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic, desc: str = "sweep",
                 unit: str = "run") -> None:
        self.desc, self.unit = desc, unit
        self.total = total
        self.done = initial
        self.initial = initial
        self.stream = stream if stream is not None else sys.stderr
        self.every_s = every_s
        self.clock = clock
        self.start = clock()
        self.enabled = enabled and total > initial
        self._bar = None
        self._last_time = self.start
        self._last_tenth = self._tenth(initial)
        if not self.enabled:
            return
        if _bar_fits(self.stream):
            from tqdm import tqdm

            class Bar(tqdm):
                # No monitor thread: it would make this process multi-threaded before the
                # worker pool forks (see start_method).
                monitor_interval = 0

            self._bar = Bar(total=total, initial=initial, unit=unit, desc=desc,
                             file=self.stream, dynamic_ncols=True, smoothing=0.1)
        else:
            already = f" ({initial} already done)" if initial else ""
            self._write(f"{desc}: {total - initial} {unit}s to do{already}")

    def _tenth(self, done: int) -> int:
        return (10 * done) // self.total if self.total else 10

    def update(self, n: int = 1) -> None:
        """Count ``n`` more runs as done."""
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = self.clock()
        tenth = self._tenth(self.done)
        if self.done < self.total and (tenth > self._last_tenth
                                       or now - self._last_time >= self.every_s):
            self._last_tenth, self._last_time = tenth, now
            self._write(self.line(now))

    def line(self, now: float) -> str:
        """The plain progress line: ``sweep: 12/40 runs (30%), 2.5 runs/s, ETA 11s``."""
        elapsed = max(now - self.start, 1e-9)
        rate = (self.done - self.initial) / elapsed
        left = self.total - self.done
        eta = _duration(left / rate) if rate > 0 else "?"
        pct = 100 * self.done / self.total if self.total else 100
        return (f"{self.desc}: {self.done}/{self.total} {self.unit}s ({pct:.0f}%), "
                f"{rate:.3g} {self.unit}s/s, ETA {eta}")

    def close(self, complete: bool = True) -> None:
        """Finish the bar, or write the closing plain line (``complete=False``: stopped)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.close()
        else:
            elapsed = _duration(self.clock() - self.start)
            done, unit = f"{self.done}/{self.total} {self.unit}s", self.desc
            self._write(f"{unit}: {done} done in {elapsed}" if complete
                        else f"{unit}: stopped at {done} after {elapsed}")
        self.enabled = False

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()


def _bar_fits(stream: TextIO) -> bool:
    """True when ``stream`` is a terminal a bar can be drawn on.

    A pseudo-terminal nobody gave a size (``script``, some CI runners) reports 0 columns, and
    tqdm draws nothing there, so it gets the plain lines instead.
    """
    try:
        if not stream.isatty():
            return False
    except (AttributeError, ValueError):
        return False
    try:
        return os.get_terminal_size(stream.fileno()).columns > 0
    except (OSError, ValueError):  # a terminal-like stream without a descriptor: trust isatty
        return True


def _duration(seconds: float) -> str:
    """``42s``, ``3m05s`` or ``2h01m``."""
    if not math.isfinite(seconds):
        return "?"
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{(s % 3600) // 60:02d}m"
