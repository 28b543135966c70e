"""Pytest plugin: WeCom fixtures (issue 25.5).

- ``fake_wecom_api``: the product's fake WeCom API (``bot.demo.fake_wecom.FakeWeComApi``) on
  127.0.0.1 with a random CorpID, secret and AgentId; add UserIds to ``.users`` to put people in
  the school's WeCom address book.
- ``wecom_settings``: ``wechat_settings`` (safe mode, the fake WeChat API) plus the WeCom app
  pointed at the fake WeCom API.
- ``wecom``: posts to the app's ``/wecom`` as WeCom does and returns the reply text:
  ``wecom("谈心 张三 …", userid="T0001")``; ``wecom.sim`` builds requests by hand.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator

import pytest

from bot.demo.fake_wecom import FakeWeComApi
from core.wechat import crypto
from core.wecom.simulate import WeComSimulator


@pytest.fixture
def fake_wecom_api() -> Iterator[FakeWeComApi]:
    api = FakeWeComApi(
        corp_id="ww" + secrets.token_hex(8),
        secret=secrets.token_urlsafe(32),
        agent_id=1000000 + secrets.randbelow(1000),
    )
    api.start()
    yield api
    from core.outbox import drain

    drain()
    api.stop()


def wecom_fields(api: FakeWeComApi) -> dict:
    return dict(
        wecom_corp_id=api.corp_id,
        wecom_agent_id=api.agent_id,
        wecom_secret=api.secret,
        wecom_token="wecomtoken" + secrets.token_hex(4),
        wecom_aes_key=crypto.random_aes_key(),
        wecom_api_base=api.url,
    )


@pytest.fixture
def wecom_settings(db_url, fake_wechat_api, fake_wecom_api):
    """Embedded settings with the official account (safe mode) and the WeCom app, each
    pointed at its fake. Celery's configuration is put back afterwards (see wechat_settings)."""
    from core.celery_app import configure_celery
    from core.outbox import drain
    from tests.conftest import make_settings

    yield fake_wechat_api.settings(
        db_url, wechat_aes_key=crypto.random_aes_key(), **wecom_fields(fake_wecom_api)
    )
    drain()
    configure_celery(make_settings(db_url))


class WeComDriver:
    """Talks to the app's ``/wecom`` as WeCom does; methods return the reply text ("" when
    the app answered with an empty body)."""

    def __init__(self, client, simulator: WeComSimulator, userid: str = "T-test") -> None:
        self.client = client
        self.sim = simulator
        self.userid = userid
        self.last_response = None

    def post(self, query: dict, body: bytes):
        self.last_response = self.client.post(
            "/wecom", query_string=query, data=body, content_type="text/xml"
        )
        return self.last_response

    def reply_of(self, response) -> str:
        assert response.status_code == 200, (response.status_code, response.data[:200])
        return self.sim.read_reply(response.data).get("Content", "")

    def send(self, text: str, userid: str | None = None, msg_id: int | None = None) -> str:
        return self.reply_of(self.post(*self.sim.text(userid or self.userid, text, msg_id)))

    __call__ = send

    def event(self, event: str, key: str | None = None, userid: str | None = None) -> str:
        from tests.support.wechat import _tick

        query, body = self.sim.event(userid or self.userid, event, key, create_time=_tick())
        return self.reply_of(self.post(query, body))


@pytest.fixture
def wecom_app(wecom_settings):
    from bot import create_app

    app = create_app(wecom_settings)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def wecom(wecom_app, wecom_settings) -> WeComDriver:
    s = wecom_settings
    sim = WeComSimulator(s.wecom_token, s.wecom_aes_key, s.wecom_corp_id, s.wecom_agent_id)
    return WeComDriver(wecom_app.test_client(), sim)
