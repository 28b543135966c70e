"""The campus login as a student's phone walks it (issue 23.5): the menu's 绑定身份 opens
``/bind/start`` in WeChat's browser, WeChat authorises silently (the local fake plays WeChat's
part), the school's CAS login form (the local fake CAS) takes the campus account and password,
and the app's last page says who the WeChat account is bound to. Every step is real HTTP."""

from __future__ import annotations

import html
import re
from urllib.parse import urljoin

import requests

from bot.demo.fake_cas import FakeCas
from bot.demo.fake_wechat import FakeWeChatApi
from bot.demo.servers import DemoError

TIMEOUT = 30
_TEXT = re.compile(r"<(h1|p)[^>]*>(.*?)</\1>", re.S)


def page_text(body: str) -> str:
    """The title and paragraphs of one of the app's pages, one a line."""
    return "\n".join(html.unescape(m.group(2)).strip() for m in _TEXT.finditer(body))


def bind_by_campus_login(
    public_url: str,
    wechat: FakeWeChatApi,
    cas: FakeCas,
    openid: str,
    username: str,
    password: str,
) -> str:
    """Walk the campus login for ``openid`` with the CAS account ``username``; the final page's
    text. DemoError when a step goes somewhere it should not."""
    browser = requests.Session()  # the phone's WeChat browser: its own cookies

    def redirected(response: requests.Response, step: str) -> str:
        if response.status_code != 302:
            raise DemoError(
                f"校园账号绑定（{step}）：{response.status_code} {page_text(response.text)}"
            )
        return urljoin(response.url, response.headers["Location"])

    start = browser.get(public_url + "/bind/start", allow_redirects=False, timeout=TIMEOUT)
    back = wechat.authorize(openid, redirected(start, "开始"))
    login = redirected(browser.get(back, allow_redirects=False, timeout=TIMEOUT), "微信授权")
    form = browser.get(login, timeout=TIMEOUT)
    service = re.search(r'name="service" value="([^"]*)"', form.text)
    if form.status_code != 200 or service is None:
        raise DemoError(f"校园账号绑定：统一身份认证登录页打不开（{form.status_code}）")
    sent = browser.post(
        cas.url + "login",
        data={
            "service": html.unescape(service.group(1)),
            "username": username,
            "password": password,
        },
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    done = browser.get(redirected(sent, "登录"), allow_redirects=False, timeout=TIMEOUT)
    text = page_text(done.text)
    if done.status_code != 200:
        raise DemoError(f"校园账号绑定失败：{done.status_code} {text}")
    return text
