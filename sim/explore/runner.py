"""Run the newest request in a background thread; a newer request cancels the older run.

The page submits a request at every change of a control. One worker thread computes; a
request that arrives while it works cancels the run in progress (its ``CancelToken``) and
replaces any request still waiting, so a slider dragged across ten values costs at most the
run in progress plus the last value, and a result is delivered only if no newer request was
made meanwhile: an older result never overwrites a newer one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from sim.explore.compute import Cancelled, CancelToken

__all__ = ["LatestRunner"]


class LatestRunner:
    """``work(request, token)`` in a daemon thread for the newest request only; its result
    goes to ``deliver(result)``, an exception to ``failed(exception)`` (both called in the
    worker thread)."""

    def __init__(self, work: Callable[[Any, CancelToken], Any],
                 deliver: Callable[[Any], None], failed: Callable[[BaseException], None]) -> None:
        self._work = work
        self._deliver = deliver
        self._failed = failed
        self._lock = threading.Condition()
        self._pending: tuple[int, Any] | None = None
        self._token: CancelToken | None = None
        self._generation = 0  # number of the newest request
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self.superseded = 0  # requests dropped or cancelled because a newer one came

    def submit(self, request: Any) -> int:
        """Queue ``request`` as the newest; returns its number."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the runner is closed")
            self._generation += 1
            if self._pending is not None:
                self.superseded += 1
            if self._token is not None:
                self._token.cancel()
            self._pending = (self._generation, request)
            if self._thread is None:
                self._thread = threading.Thread(target=self._loop, name="explore-runner",
                                                daemon=True)
                self._thread.start()
            self._lock.notify_all()
            return self._generation

    def wait(self, timeout: float | None = None) -> bool:
        """Block until no request is waiting or running; False on timeout."""
        with self._lock:
            return self._lock.wait_for(lambda: self._pending is None and not self._busy,
                                       timeout)

    def close(self) -> None:
        """Cancel what runs, drop what waits, and let the thread end."""
        with self._lock:
            self._closed = True
            self._pending = None
            if self._token is not None:
                self._token.cancel()
            self._lock.notify_all()

    def _current(self, generation: int) -> bool:
        with self._lock:
            return generation == self._generation and not self._closed

    def _loop(self) -> None:
        while True:
            with self._lock:
                self._lock.wait_for(lambda: self._pending is not None or self._closed)
                if self._closed:
                    return
                generation, request = self._pending
                self._pending = None
                self._token = token = CancelToken()
                self._busy = True
            try:
                result = self._work(request, token)
                if self._current(generation):
                    self._deliver(result)
                else:  # finished before it noticed the cancellation
                    with self._lock:
                        self.superseded += 1
            except Cancelled:
                with self._lock:
                    self.superseded += 1
            except Exception as error:  # shown on the page; the server goes on
                if self._current(generation):
                    self._failed(error)
            finally:
                with self._lock:
                    self._token = None
                    self._busy = False
                    self._lock.notify_all()
