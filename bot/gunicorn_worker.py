"""gunicorn's threaded worker, stamping each request with when it was accepted (issue 22 item 3).

gunicorn's ``gthread`` worker accepts connections in its main thread and submits each to a
thread pool; when every thread is busy (a stalled database) the connection waits in the pool's
queue, and ``pre_request`` and the app run only once a thread is free: seconds later, after
WeChat has stopped waiting. The earliest point in the web process is the hand-off to the pool
(:meth:`enqueue_req`: at accept, or when a kept-alive or deferred connection becomes readable),
so the time is taken there, kept on the connection, and put into the WSGI environ as
:data:`core.arrival.ACCEPTED_AT` by the thread that runs the request. Before ``accept`` the
connection waits in the kernel's backlog, where no process can see it: nginx's
``X-Request-Start`` covers that (``BANZHUREN_TRUSTED_PROXIES``).

``deploy/gunicorn.conf.py`` sets ``worker_class = "bot.gunicorn_worker.StampingThreadWorker"``.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

from core.arrival import ACCEPTED_AT

_local = threading.local()


class StampingThreadWorker(ThreadWorker):
    """``gthread`` with the accept time of each request in ``environ[ACCEPTED_AT]``."""

    def enqueue_req(self, conn: Any) -> None:
        conn.banzhuren_accepted_at = time.time()
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        # handle() and the app run in the same pool thread, one connection at a time.
        _local.accepted_at = getattr(conn, "banzhuren_accepted_at", None)
        try:
            return super().handle(conn)
        finally:
            _local.accepted_at = None

    def load_wsgi(self) -> None:
        super().load_wsgi()
        app = self.wsgi

        def stamped(environ: dict, start_response: Any) -> Any:
            accepted = getattr(_local, "accepted_at", None)
            if accepted is not None:
                environ[ACCEPTED_AT] = accepted
            return app(environ, start_response)

        self.wsgi = stamped
