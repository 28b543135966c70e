"""Pytest plugin: WeChat fixtures.

- ``fake_wechat_api``: the product's fake WeChat API (``bot.demo.fake_wechat.FakeWeChatApi``,
  shared with ``banzhuren demo``; its docstring lists what it speaks and how to make it fail),
  started on 127.0.0.1 with a random AppID and secret, plus ``.settings(db_url, **overrides)``.
- ``wechat_settings``: embedded settings in safe mode (random EncodingAESKey and AppID) whose
  API base is the fake server.
- ``wechat``: sends messages through the app's ``/wechat`` the way WeChat does (safe mode) and
  returns the reply text: ``wechat("测评", openid="o-1")``, ``wechat.voice(...)``,
  ``wechat.event("CLICK", "SURVEY")``, ``wechat.bind(student)``.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator

import pytest

from bot.demo.fake_wechat import FakeWeChatApi
from core.wechat import crypto
from core.wechat.simulate import WeChatSimulator


class FakeWeChatForTests(FakeWeChatApi):
    """The product's fake WeChat API, plus the settings a test needs to talk to it."""

    def settings(self, database_url: str, **overrides):
        """Test settings whose outbound WeChat calls come to this server."""
        from tests.conftest import make_settings

        fields = dict(wechat_appid=self.appid, wechat_secret=self.secret, wechat_api_base=self.url)
        return make_settings(database_url, **(fields | overrides))


@pytest.fixture(autouse=True)
def _outbox_drained() -> Iterator[None]:
    """After every test, wait for the embedded outbox sender (core.outbox) to finish, so no
    send of one test runs into the next one's database setup."""
    yield
    from core.outbox import drain

    drain()


@pytest.fixture
def fake_wechat_api() -> Iterator[FakeWeChatForTests]:
    api = FakeWeChatForTests(appid="wx" + secrets.token_hex(8), secret=secrets.token_hex(16))
    api.start()
    yield api
    from core.outbox import drain

    drain()
    api.stop()
    # Issue 23: WeChat no longer shows first/remark; a template relying on them loses them.
    assert not api.retired_fields_used, f"template fields WeChat ignores: {api.retired_fields_used}"


@pytest.fixture
def wechat_settings(db_url, fake_wechat_api):
    """Embedded settings, safe mode, outbound API pointed at ``fake_wechat_api``.

    Afterwards the process's Celery configuration (which the outbox reads) is put back to
    plain embedded settings, so that a later test never sends to this test's stopped server.
    """
    from core.celery_app import configure_celery
    from core.outbox import drain
    from tests.conftest import make_settings

    yield fake_wechat_api.settings(db_url, wechat_aes_key=crypto.random_aes_key())
    drain()
    configure_celery(make_settings(db_url))


class WeChatDriver:
    """Talks to the app's ``/wechat`` as WeChat does; every method returns the reply text
    ("" when the app answered ``success``)."""

    def __init__(
        self,
        client,
        simulator: WeChatSimulator,
        openid: str = "o-test-user",
        api: FakeWeChatApi | None = None,
    ) -> None:
        self.client = client
        self.sim = simulator
        self.openid = openid
        self.last_response = None
        # The fake WeChat API learns what each user did (issue 23: the allowance it enforces).
        self.api = api

    def _did(self, openid: str, msg_type: str, event: str | None = None) -> None:
        if self.api is not None:
            self.api.user_action(openid, msg_type, event)

    def post(self, query: dict, body: bytes):
        """POST a prepared request; returns the Flask response."""
        self.last_response = self.client.post(
            "/wechat", query_string=query, data=body, content_type="text/xml"
        )
        return self.last_response

    def reply_of(self, response) -> str:
        assert response.status_code == 200, (response.status_code, response.data[:200])
        return self.sim.read_reply(response.data).get("Content", "")

    def send(self, text: str, openid: str | None = None, msg_id: int | None = None) -> str:
        self._did(openid or self.openid, "text")
        return self.reply_of(self.post(*self.sim.text(openid or self.openid, text, msg_id)))

    __call__ = send

    def voice(self, recognition: str, openid: str | None = None) -> str:
        self._did(openid or self.openid, "voice")
        return self.reply_of(self.post(*self.sim.voice(openid or self.openid, recognition)))

    def image(self, openid: str | None = None, media_id: str | None = None) -> str:
        self._did(openid or self.openid, "image")
        return self.reply_of(self.post(*self.sim.image(openid or self.openid, media_id)))

    def event(self, event: str, key: str | None = None, openid: str | None = None) -> str:
        # Events are deduplicated on FromUserName+CreateTime: two in one second would be
        # one event to the app, as they would be to WeChat.
        self._did(openid or self.openid, "event", event)
        reply = self.reply_of(
            self.post(*self.sim.event(openid or self.openid, event, key, create_time=_tick()))
        )
        return reply

    def bind(self, person, openid: str | None = None) -> str:
        """Bind ``openid`` to a Student or Teacher (committed) with the person's code."""
        number = getattr(person, "student_no", None) or person.staff_no
        reply = self.send(f"绑定 {number} {person.binding_code}", openid=openid)
        assert "绑定成功" in reply, reply
        return reply


_last_tick = [0]
_tick_lock = threading.Lock()


def _tick() -> int:
    """A CreateTime for an event, distinct from the previous one (events have no MsgId)."""
    with _tick_lock:
        now = int(time.time())
        _last_tick[0] = max(now, _last_tick[0] + 1)
        return _last_tick[0]


@pytest.fixture
def wechat_app(wechat_settings):
    from bot import create_app

    app = create_app(wechat_settings)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def wechat(wechat_app, wechat_settings, fake_wechat_api) -> WeChatDriver:
    sim = WeChatSimulator(
        wechat_settings.wechat_token,
        wechat_settings.wechat_aes_key,
        wechat_settings.wechat_appid,
        mode="safe",
    )
    return WeChatDriver(wechat_app.test_client(), sim, api=fake_wechat_api)


def grant_allowance(*openids: str, kind: str = "message", at=None) -> None:
    """Issue 23: each of ``openids`` did a granting action (by default sent a message, now),
    as the webhook would have recorded it: customer-service messages to them go out."""
    import core.db
    from core.reach import window
    from models.base import utcnow

    with core.db.session_scope(write=True) as s:
        for openid in openids:
            window.record(s, openid, kind, at or utcnow())
