"""Pytest plugin: a REAL Celery worker process on the real Redis, for tests of task paths.

Usage in a test (any backend: a SQLite file database works across processes too)::

    def test_something(celery_worker, session):
        ...                                   # build rows, session.commit()
        result = my_task.delay(some_id)       # goes through Redis to the worker process
        assert result.get(timeout=60) == ...

What the fixtures give:

- ``celery_worker_settings``: the Settings the worker and this test process share — the test's
  database, the real Redis, a key prefix of the test's own (``redis_prefix``: every broker and
  result key carries it, so concurrent test runs and workers never see each other's tasks).
  Override this fixture in a test module to change settings, e.g.
  ``return make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix,
  wechat_api_base=fake_wechat_api.base_url)``; every Settings field is passed to the worker as
  its ``BANZHUREN_*`` variable.
- ``celery_worker``: starts ``python -m celery -A worker.main worker -Q <celery_queue> --pool
  prefork -c 2`` with those variables, waits until it answers a ping (fails the test with the
  worker's log if it does not within 60 s), configures this process's Celery app for the same
  Redis (``.delay()`` now enqueues for real), and after the test stops the worker (SIGTERM, then
  SIGKILL) and puts this process's Celery app back as it was (eager). The yielded
  :class:`WorkerProcess` has ``.pid``, ``.pool_pids()``, ``.active()`` (tasks running, with the
  pool process running each), ``.log()`` and ``.stop()``.
- ``start_worker(settings, log_path)``: the same as a function, to start a second worker (e.g.
  after killing the first).
- ``use_celery_settings(settings)``: point this process's Celery app at ``settings``, dropping
  cached broker and backend connections (Celery caches them on first use).
"""

from __future__ import annotations

import gc
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path

import kombu.pools
import pytest

import core.celery_app as celery_app
from core.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0

# Settings field → environment variable the worker reads it from (core.settings.load_settings).
ENV_NAMES = {
    "database_url": "BANZHUREN_DATABASE_URL",
    "redis_url": "BANZHUREN_REDIS_URL",
    "secret_key": "BANZHUREN_SECRET_KEY",
    "wechat_token": "BANZHUREN_WECHAT_TOKEN",
    "wechat_appid": "BANZHUREN_WECHAT_APPID",
    "wechat_secret": "BANZHUREN_WECHAT_SECRET",
    "wechat_aes_key": "BANZHUREN_WECHAT_AES_KEY",
    "wechat_previous_aes_key": "BANZHUREN_WECHAT_PREVIOUS_AES_KEY",
    "wechat_api_base": "BANZHUREN_WECHAT_API_BASE",
    "min_respondents": "BANZHUREN_MIN_RESPONDENTS",
    "min_participation": "BANZHUREN_MIN_PARTICIPATION",
    "school_name": "BANZHUREN_SCHOOL_NAME",
    "timezone": "BANZHUREN_TIMEZONE",
    "redis_prefix": "BANZHUREN_REDIS_PREFIX",
    "celery_queue": "BANZHUREN_CELERY_QUEUE",
    "secure_cookies": "BANZHUREN_SECURE_COOKIES",
    "wechat_allow_plaintext": "BANZHUREN_WECHAT_ALLOW_PLAINTEXT",
    "seal_key": "BANZHUREN_SEAL_KEY",
    "seal_previous_key": "BANZHUREN_SEAL_PREVIOUS_KEY",
    "wechat_template_remind": "BANZHUREN_WECHAT_TEMPLATE_REMIND",
    "wechat_template_remind_fields": "BANZHUREN_WECHAT_TEMPLATE_REMIND_FIELDS",
    "wechat_template_url": "BANZHUREN_WECHAT_TEMPLATE_URL",
    "wechat_tap_to_answer": "BANZHUREN_WECHAT_TAP_TO_ANSWER",
    "trusted_proxies": "BANZHUREN_TRUSTED_PROXIES",
    "wecom_corp_id": "BANZHUREN_WECOM_CORP_ID",
    "wecom_agent_id": "BANZHUREN_WECOM_AGENT_ID",
    "wecom_secret": "BANZHUREN_WECOM_SECRET",
    "wecom_token": "BANZHUREN_WECOM_TOKEN",
    "wecom_aes_key": "BANZHUREN_WECOM_AES_KEY",
    "wecom_api_base": "BANZHUREN_WECOM_API_BASE",
}


def settings_env(settings: Settings) -> dict[str, str]:
    """The ``BANZHUREN_*`` environment that makes ``load_settings()`` return ``settings``."""
    env = {}
    for f in fields(settings):
        name = ENV_NAMES.get(f.name)
        value = getattr(settings, f.name)
        if name is None or value is None:
            continue
        env[name] = str(value).lower() if isinstance(value, bool) else str(value)
    return env


def use_celery_settings(settings: Settings) -> None:
    """Configure this process's Celery app for ``settings`` and drop the broker pool and result
    backend it cached, so that the next call uses the new Redis and key prefix."""
    app = celery_app.configure_celery(settings)
    # Close what was open (an unclosed socket is a ResourceWarning, an error here) and forget
    # it; kombu keeps its pools in a process-wide registry, so that is reset as a whole.
    backend = app._backend
    if backend is not None:
        # AsyncResult.__del__ unsubscribes through the result consumer: let the finalizers of
        # results nobody holds run first, and leave no pubsub for later ones to reopen.
        gc.collect()
        consumer = getattr(backend, "result_consumer", None)
        if consumer is not None:
            consumer.stop()
            if hasattr(consumer, "_pubsub"):
                consumer._pubsub = None
        pool = getattr(getattr(backend, "client", None), "connection_pool", None)
        if pool is not None:  # a Redis backend (the in-memory one has none)
            pool.disconnect()
    kombu.pools.reset()
    app._pool = None
    amqp = app.__dict__.get("amqp")
    if amqp is not None:
        amqp._producer_pool = None
    app._backend_cache = None
    if hasattr(app._local, "backend"):
        del app._local.backend


def _children(pid: int) -> list[int]:
    """Process ids whose parent is ``pid`` (the prefork pool processes of a worker)."""
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after it.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            out.append(int(entry.name))
    return sorted(out)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie still answers kill(0); it is dead for our purposes.
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class WorkerProcess:
    """A running ``celery worker`` started by :func:`start_worker`."""

    def __init__(
        self, settings: Settings, process: subprocess.Popen, hostname: str, log_path: Path
    ):
        self.settings = settings
        self.process = process
        self.hostname = hostname
        self.log_path = log_path
        self._pool: list[int] = []

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def pool_pids(self) -> list[int]:
        pids = _children(self.pid)
        self._pool = sorted(set(self._pool) | set(pids))
        return pids

    def ping(self, timeout: float = 1.0) -> bool:
        replies = celery_app.celery.control.ping(destination=[self.hostname], timeout=timeout)
        return any(self.hostname in reply for reply in replies)

    def active(self) -> list[dict]:
        """Tasks running now: dicts with ``id``, ``name``, ``args`` and ``worker_pid``."""
        reply = celery_app.celery.control.inspect(destination=[self.hostname], timeout=2.0).active()
        return (reply or {}).get(self.hostname, [])

    def stop(self, timeout: float = 30.0) -> None:
        """Warm shutdown (finish running tasks), then SIGKILL whatever is left."""
        self.pool_pids()
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        for pid in self._pool:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def start_worker(
    settings: Settings,
    log_path: Path,
    concurrency: int = 2,
    extra_env: dict[str, str] | None = None,
    cwd: Path = ROOT,
) -> WorkerProcess:
    """Start a worker process for ``settings`` and wait until it answers a ping."""
    if not settings.redis_url:
        raise ValueError("a worker needs settings with redis_url")
    env = {k: v for k, v in os.environ.items() if not k.startswith("BANZHUREN_")}
    env.update(settings_env(settings))
    env.update(extra_env or {})
    env["PYTHONUNBUFFERED"] = "1"
    hostname = f"bzrtest-{uuid.uuid4().hex[:8]}@localhost"
    use_celery_settings(settings)
    log_file = log_path.open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "worker.main",
            "worker",
            "-Q",
            settings.celery_queue,
            "--pool",
            "prefork",
            "-c",
            str(concurrency),
            "-n",
            hostname,
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        cwd=cwd,
        env=env,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    log_file.close()
    w = WorkerProcess(settings, process, hostname, log_path)
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            pytest.fail(
                f"celery worker exited with {process.returncode} before answering a ping:\n"
                + w.log()[-4000:],
                pytrace=False,
            )
        if w.ping():
            w.pool_pids()
            return w
        if time.monotonic() > deadline:
            w.stop(timeout=5)
            pytest.fail(
                f"celery worker did not answer a ping within {START_TIMEOUT:.0f} s:\n"
                + w.log()[-4000:],
                pytrace=False,
            )


@pytest.fixture
def celery_worker_settings(db_url: str, redis_url: str, redis_prefix: str) -> Settings:
    """Settings shared by the worker process and the test (override to change them)."""
    from tests.conftest import make_settings

    return make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)


@pytest.fixture
def celery_worker(celery_worker_settings: Settings, tmp_path: Path) -> Iterator[WorkerProcess]:
    """A real ``celery worker`` process (prefork, 2 processes) on the real Redis."""
    previous = celery_app._configured_for
    w = start_worker(celery_worker_settings, tmp_path / "celery-worker.log")
    try:
        yield w
    finally:
        w.stop()
        if previous is not None:
            use_celery_settings(previous)
        else:
            from tests.conftest import make_settings

            use_celery_settings(make_settings(celery_worker_settings.database_url))
        # Collect now, so that a connection left open by the test warns here, not in a
        # later test that had nothing to do with it.
        gc.collect()
