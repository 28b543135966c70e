"""The outbox on SQLite (embedded mode) while other writers hold the database's single write lock:
a message sent through the (fake) WeChat API is recorded as sent even when the lock stays busy
past SQLite's busy timeout, as happens under a burst of concurrent requests."""

from __future__ import annotations

import sqlite3
import threading

import core.db
from core.celery_app import configure_celery
from core.outbox import SENT, deliver
from models import OutboundMessage
from models.migrate import upgrade
from tests.conftest import make_settings
from tests.support.wechat import grant_allowance


def test_send_is_recorded_although_the_write_lock_stays_busy(tmp_path, fake_wechat_api):
    path = tmp_path / "busy.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    # A busy timeout of 0.2 s stands for a busy spell longer than the usual 30 s.
    core.db.configure(url, connect_args={"timeout": 0.2})
    configure_celery(fake_wechat_api.settings(url))
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        with core.db.session_scope() as s:
            rows = [
                OutboundMessage(openid=openid, payload={"content": text})
                for openid, text in (("o-first", "测评已开始"), ("o-busy", "请尽快完成测评"))
            ]
            s.add_all(rows)
            s.flush()
            first, busy = (r.id for r in rows)
        grant_allowance("o-first", "o-busy")  # issue 23: both wrote to the account lately
        # The access token is fetched (and stored) while nothing else writes.
        assert deliver(first) == SENT

        # Another writer takes the write lock and keeps it for a second: the send goes out
        # meanwhile, and its outcome must still be recorded once the lock is free.
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(1.0, holder.execute, args=("COMMIT",))
        release.start()
        assert deliver(busy) == SENT
        release.join()

        assert fake_wechat_api.texts_to("o-busy") == ["请尽快完成测评"]
        with core.db.SessionFactory() as s:
            row = s.get(OutboundMessage, busy)
            assert row.sent_at is not None and row.attempts == 1 and row.last_error is None
        # Recorded as sent: delivering it again sends nothing more.
        assert deliver(busy) != SENT
        assert fake_wechat_api.texts_to("o-busy") == ["请尽快完成测评"]
    finally:
        holder.close()
        configure_celery(make_settings(url))
        # Close (not just forget) this test's pooled connections to its own database.
        core.db.get_engine().dispose()
