"""Pytest plugin: the campus login (issue 23).

- ``fake_cas``: the product's fake CAS server (``bot.demo.fake_cas.FakeCas``, shared with
  ``banzhuren demo``) on 127.0.0.1.
- ``campus_settings``: ``wechat_settings`` plus the public address (``http://localhost``, the
  Flask test client's host) and the fake CAS.
- ``campus``: a :class:`CampusDriver` on one app built from them: ``campus.phone(openid)`` is a
  phone's WeChat browser (its own cookies) that walks ``/bind/start`` → WeChat → CAS; and
  ``campus.wechat`` sends chat messages to the same app.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest

from bot.demo.fake_cas import FakeCas
from core.wechat.simulate import WeChatSimulator
from tests.support.wechat import WeChatDriver

PUBLIC_URL = "http://localhost"


@pytest.fixture
def fake_cas() -> Iterator[FakeCas]:
    cas = FakeCas().start()
    yield cas
    cas.stop()


@pytest.fixture
def campus_settings(wechat_settings, fake_cas):
    return wechat_settings.with_overrides(public_url=PUBLIC_URL, cas_url=fake_cas.url)


class Phone:
    """One phone's WeChat browser on the app (its own cookie jar)."""

    def __init__(self, driver: CampusDriver, openid: str) -> None:
        self.driver = driver
        self.openid = openid
        self.client = driver.app.test_client()

    def start(self) -> str:
        """Open /bind/start and let WeChat authorise: the URL WeChat sends the phone back to."""
        response = self.client.get("/bind/start")
        assert response.status_code == 302, response.data[:300]
        return self.driver.fake_wechat.authorize(self.openid, response.headers["Location"])

    def to_cas(self, back: str | None = None) -> str:
        """Through /bind/wechat to the CAS login: the service URL CAS is asked to return to."""
        response = self.client.get(back or self.start())
        assert response.status_code == 302, response.get_data(as_text=True)
        login = urlsplit(response.headers["Location"])
        assert login.geturl().startswith(self.driver.fake_cas.url + "login?")
        return parse_qs(login.query)["service"][0]

    def finish(self, service: str, ticket: str):
        return self.client.get(service, query_string={"ticket": ticket})

    def bind(self, number: str, attributes: dict | None = None):
        """The whole walk for the campus account ``number``; the final page's response."""
        service = self.to_cas()
        return self.finish(service, self.driver.fake_cas.login(number, service, attributes))


class CampusDriver:
    def __init__(self, app, fake_wechat, fake_cas: FakeCas, wechat: WeChatDriver) -> None:
        self.app = app
        self.fake_wechat = fake_wechat
        self.fake_cas = fake_cas
        self.wechat = wechat

    def phone(self, openid: str) -> Phone:
        return Phone(self, openid)


@pytest.fixture
def campus_app(campus_settings):
    from bot import create_app

    app = create_app(campus_settings)
    app.config.update(TESTING=True)
    return app


@pytest.fixture
def campus(campus_app, campus_settings, fake_wechat_api, fake_cas) -> CampusDriver:
    sim = WeChatSimulator(
        campus_settings.wechat_token,
        campus_settings.wechat_aes_key,
        campus_settings.wechat_appid,
        mode="safe",
    )
    return CampusDriver(
        campus_app, fake_wechat_api, fake_cas, WeChatDriver(campus_app.test_client(), sim)
    )
