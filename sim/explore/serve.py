"""Serve the explore page on the loopback interface (127.0.0.1 only: a teaching page, not a
public service)."""

from __future__ import annotations

import socket

__all__ = ["HOST", "free_port", "make_server", "run"]

HOST = "127.0.0.1"
TITLE = "repsim explore"


def free_port() -> int:
    """A TCP port free on the loopback interface now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def make_server(port: int, open_browser: bool = False):
    """A Panel (Bokeh) server for the page on HOST:``port``, bound but not yet started
    (OSError when the port is taken).

    Every browser session gets its own page (:func:`sim.explore.app.create`); only pages
    loaded from this host and port may open the page's websocket."""
    import panel as pn

    from sim.explore.app import create

    return pn.serve(
        {"/": create}, port=port, address=HOST, show=open_browser, start=False,
        title=TITLE, verbose=False, websocket_origin=[f"{HOST}:{port}", f"localhost:{port}"])


def run(server) -> None:
    """Serve until interrupted (Ctrl-C); a browser opens once the loop runs, if asked."""
    server.start()
    try:
        server.io_loop.start()
    finally:
        server.stop()
