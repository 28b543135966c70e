"""The processes the demo runs: the real web app on a local port (werkzeug in a thread when
embedded, gunicorn when Redis is configured, as in production), a Celery worker when Redis is
configured, and ``banzhuren`` commands exactly as a user would type them."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import requests
from werkzeug.serving import BaseWSGIServer, make_server


class DemoError(RuntimeError):
    """A step of the demo failed; the message says which and why."""


# The console script, without relying on PATH: the same interpreter runs ``bot.cli.main``.
CLI = [sys.executable, "-c", "import sys; from bot.cli import main; sys.exit(main())"]


def run_cli(
    args: Sequence[str], env: Mapping[str, str], stdin: str | None = None, timeout: float = 600
) -> str:
    """Run ``banzhuren ARGS`` in a subprocess; its stdout, or DemoError with its error."""
    done = subprocess.run(
        [*CLI, *args],
        env=dict(env),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        error = (done.stderr.strip() or done.stdout.strip()).splitlines()
        raise DemoError(
            f"banzhuren {' '.join(args)} 失败：{error[-1] if error else done.returncode}"
        )
    return done.stdout


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_in_use(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def wait_until_up(url: str, timeout: float = 90, process: subprocess.Popen | None = None) -> None:
    """Until ``url`` answers at all (any status: /wechat without a signature is 403)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise DemoError(f"Web 服务进程已退出（退出码 {process.returncode}）")
        try:
            requests.get(url, timeout=5)
            return
        except (requests.ConnectionError, requests.Timeout):
            # Not listening yet, or gunicorn's socket is open while its workers still boot.
            time.sleep(0.2)
    raise DemoError(f"Web 服务在 {timeout:.0f} 秒内没有在 {url} 启动")


@dataclass
class WebServer:
    url: str  # http://127.0.0.1:PORT/
    _thread_server: BaseWSGIServer | None = None
    _process: subprocess.Popen | None = None

    def stop(self) -> None:
        if self._thread_server is not None:
            self._thread_server.shutdown()
            self._thread_server.server_close()
        if self._process is not None:
            stop_process(self._process)


def start_web(
    settings, env: Mapping[str, str], port: int, gunicorn: bool, log: Path | None = None
) -> WebServer:
    """Start the real app on 127.0.0.1:``port``; gunicorn's log goes to ``log``."""
    url = f"http://127.0.0.1:{port}/"
    if gunicorn:
        log_file = open(log or os.devnull, "ab")  # noqa: SIM115 - the child keeps it open
        process = subprocess.Popen(
            [
                sys.executable, "-m", "gunicorn",
                "--workers", "2", "--worker-class", "gthread", "--threads", "4",
                "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
                "bot:create_app()",
            ],
            env=dict(env),
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )  # fmt: skip
        log_file.close()
        wait_until_up(url + "wechat", process=process)
        return WebServer(url, _process=process)
    from bot import create_app

    # The development server would print a line per request over the progress bar.
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = create_app(settings)
    server = make_server("127.0.0.1", port, app, threaded=True)
    threading.Thread(target=server.serve_forever, name="demo-web", daemon=True).start()
    wait_until_up(url + "wechat")
    return WebServer(url, _thread_server=server)


def start_worker(env: Mapping[str, str], log: Path | None = None) -> subprocess.Popen:
    """A Celery worker (``banzhuren worker``) on the demo's own queue."""
    with open(log or os.devnull, "ab") as log_file:
        return subprocess.Popen(
            [*CLI, "worker", "--concurrency", "2", "--loglevel", "WARNING",
             "--without-heartbeat", "--without-gossip", "--without-mingle"],
            env=dict(env),
            stdout=log_file,
            stderr=log_file,
            start_new_session=True,
        )  # fmt: skip


def stop_process(process: subprocess.Popen, timeout: float = 20) -> None:
    """TERM the process group we started (gunicorn's or celery's children too), then KILL."""
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    except ProcessLookupError:
        pass
