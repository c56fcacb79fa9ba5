"""``repsim explore`` in a child process on a free loopback port, for the page's tests.

The server is the real command (``python -m sim explore --no-browser --port N``), started
and always stopped by the ``with`` block that uses it, and killed with the test process
on Linux if that dies first.
"""

from __future__ import annotations

import contextlib
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.redis_servers import _die_with_parent, free_port

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT_S = 60.0  # importing Panel and Bokeh takes seconds on a busy machine


def get(url: str, timeout_s: float = 10.0) -> tuple[int, str]:
    """(HTTP status, body) of a GET."""
    with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - loopback
        return response.status, response.read().decode("utf-8", errors="replace")


@contextlib.contextmanager
def explore_server() -> Iterator[str]:
    """Yield the page's URL (http://127.0.0.1:PORT/) once it answers."""
    port = free_port()
    log = tempfile.TemporaryFile(mode="w+")  # a file, not a pipe: the server never blocks on it
    process = subprocess.Popen(
        [sys.executable, "-m", "sim", "explore", "--no-browser", "--port", str(port)],
        cwd=ROOT, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
        text=True, preexec_fn=_die_with_parent)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if process.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"repsim explore exited: {log.read()[-2000:]}")
            with contextlib.suppress(urllib.error.URLError, ConnectionError, TimeoutError):
                if get(url)[0] == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(f"repsim explore did not answer on {url}")
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()
