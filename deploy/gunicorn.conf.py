"""gunicorn settings for the banzhuren web app (webhook, dashboard, API).

Used by the compose file and the systemd unit:

    gunicorn -c deploy/gunicorn.conf.py "bot:create_app()"

The app keeps nothing in process memory, so the number of workers (and of hosts behind
nginx) is only a matter of CPU. Override with gunicorn's own ``WEB_CONCURRENCY`` and
``GUNICORN_CMD_ARGS`` environment variables; the app itself reads only ``BANZHUREN_*``.
"""

import multiprocessing
import os
import re

from gunicorn.glogging import Logger

# Files the web processes write (logs, a SQLite database) are not world-readable (issue 22):
# this file runs in the master before it opens any log; the app narrows it too.
os.umask(os.umask(0) | 0o027)

wsgi_app = "bot:create_app()"
bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")

# Threads let one worker overlap its waits on PostgreSQL and Redis; the per-openid lock and
# the database, not the process, serialise what must be serialised. gunicorn's gthread worker,
# stamping each request with when it was accepted: with every thread busy (a stalled database)
# requests wait in the worker's queue, and WeChat's 5 s count from their arrival, not from
# when a thread gets to them (bot/gunicorn_worker.py; behind nginx its X-Request-Start counts).
worker_class = "bot.gunicorn_worker.StampingThreadWorker"
workers = int(os.environ.get("WEB_CONCURRENCY", min(2 * multiprocessing.cpu_count() + 1, 8)))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))

# WeChat gives up after 5 seconds and retries; a request still running after 30 s is stuck.
timeout = 30
graceful_timeout = 30
keepalive = 5

# Recycle workers now and then so that a slow leak can never take the site down.
max_requests = 5000
max_requests_jitter = 500

# nginx sits in front and sets X-Forwarded-*; trust it (same host or compose network).
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "*")

accesslog = "-"
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOGLEVEL", "info")
# No query strings in the access log: WeChat's carry signatures and openids.
access_log_format = '%(h)s "%(m)s %(U)s" %(s)s %(B)s %(M)sms'

# Nor the one-time tokens of chat links (issue 25: /d/<token>, /apply/<token>) in the path.
_TOKEN_PATH = re.compile(r"^/(d|apply)/(?!wechat$)[^/]+$")


def mask_token_path(path: str) -> str:
    return _TOKEN_PATH.sub(r"/\1/…", path)


class TokenMaskingLogger(Logger):
    def atoms(self, resp, req, environ, request_time):
        values = super().atoms(resp, req, environ, request_time)
        values["U"] = mask_token_path(values.get("U") or "")
        return values


logger_class = TokenMaskingLogger


def post_fork(server, worker):  # gunicorn hook signature
    """Each worker opens its own database connections; none is shared across the fork."""
    import core.db

    core.db.dispose()


def on_starting(server):  # gunicorn hook signature
    """Refuse to start without BANZHUREN_SECRET_KEY (or with any CHANGE-ME placeholder left from
    .env.example): each worker would otherwise sign sessions with a key of its own, and logins
    would bounce between workers."""
    from core.settings import ConfigError, load_settings

    try:
        settings = load_settings()
    except ConfigError as exc:
        raise SystemExit(f"banzhuren: {exc}") from None
    if not settings.secret_key_configured:
        raise SystemExit(
            "banzhuren: BANZHUREN_SECRET_KEY 未设置。所有 Web 进程必须使用同一个密钥，生成："
            'python3 -c "import secrets; print(secrets.token_hex(32))"'
        )
