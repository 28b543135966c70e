"""``/wechat`` without Flask's request machinery (issue 26, :mod:`bot.wechat.fastpath`): the app
answers each request exactly as its Flask views do, request by request, and the views are no
longer on the way."""

from __future__ import annotations

import dataclasses
import io
import time
from collections.abc import Callable

import pytest
from flask import Flask
from werkzeug.test import EnvironBuilder

import core.db
from bot.chat import help as texts
from core.wechat.simulate import WeChatSimulator, render_xml


def flask_only(app: Flask) -> Callable:
    """The app's WSGI callable as Flask alone answers it (its routing and the views)."""
    return Flask.wsgi_app.__get__(app)


def call(wsgi: Callable, environ: dict) -> tuple[str, list[tuple[str, str]], bytes]:
    seen: dict = {}

    def start_response(status: str, headers: list, exc_info=None) -> Callable:
        seen["status"], seen["headers"] = status, headers
        return lambda _data: None

    result = wsgi(environ, start_response)
    try:
        body = b"".join(result)
    finally:
        if hasattr(result, "close"):
            result.close()
    # The order of the methods in a 405's Allow is Werkzeug's (a set): not an answer's content.
    headers = [
        (k, ", ".join(sorted(v.split(", "))) if k == "Allow" else v) for k, v in seen["headers"]
    ]
    return seen["status"], headers, body


def environ(
    method: str = "POST", path: str = "/wechat", content_length: int | None = None, **kw
) -> dict:
    builder = EnvironBuilder(path=path, method=method, **kw)
    try:
        env = builder.get_environ()
    finally:
        builder.close()
    if content_length is not None:  # what the client claims, whatever it sends
        env["CONTENT_LENGTH"] = str(content_length)
    return env


@pytest.fixture
def sim(wechat_settings) -> WeChatSimulator:
    s = wechat_settings
    return WeChatSimulator(s.wechat_token, s.wechat_aes_key, s.wechat_appid, mode="safe")


def both(app: Flask, make: Callable[[], dict]) -> tuple:
    """The fast path's answer and Flask's to the same request (built twice: a body is read once)."""
    return call(app.wsgi_app, make()), call(flask_only(app), make())


def _requests(sim: WeChatSimulator) -> dict[str, Callable[[], dict]]:
    query, body = sim.text("o-fast", "帮助", msg_id=1)
    stale_query, stale_body = sim.sign(
        render_xml({"ToUserName": "gh", "FromUserName": "o", "CreateTime": 1, "MsgType": "text"}),
        timestamp=int(time.time()) - 3600,
    )
    plain_query, plain_body = WeChatSimulator(sim.token, mode="plain").text("o-fast", "帮助")
    check = sim.url_check("echo-42")
    return {
        "bad msg_signature": lambda: environ(
            query_string=dict(query, msg_signature="0" * 40), data=body
        ),
        "no query": lambda: environ(data=body),
        "not XML": lambda: environ(query_string=query, data=b"<xml><Encrypt>"),
        "empty body": lambda: environ(query_string=query, data=b"  "),
        "oversize body": lambda: environ(query_string=query, data=b"x" * (1024 * 1024 + 1)),
        "oversize Content-Length": lambda: environ(
            query_string=query, data=b"<xml/>", content_length=2 * 1024 * 1024
        ),
        "body cut short": lambda: environ(
            query_string=query,
            input_stream=io.BytesIO(body[:20]),
            content_length=len(body),
        ),
        "nonce too long": lambda: environ(query_string=dict(query, nonce="1" * 65), data=body),
        "stale timestamp": lambda: environ(query_string=stale_query, data=stale_body),
        "plaintext under a key": lambda: environ(query_string=plain_query, data=plain_body),
        "URL check": lambda: environ("GET", query_string=check),
        "URL check, bad signature": lambda: environ(
            "GET", query_string=dict(check, signature="0" * 40)
        ),
        "URL check, timestamp not a time": lambda: environ(
            "GET", query_string=dict(check, timestamp="x")
        ),
        "URL check, no query": lambda: environ("GET"),
        "HEAD": lambda: environ("HEAD", query_string=check),
        "PUT": lambda: environ("PUT", data=body),
        "OPTIONS": lambda: environ("OPTIONS"),
        "trailing slash": lambda: environ(path="/wechat/", query_string=query, data=body),
        "another path": lambda: environ("GET", path="/wechatx"),
    }


def test_refusals_are_answered_as_flask_answers_them(wechat_app, sim):
    for name, make in _requests(sim).items():
        fast, flask = both(wechat_app, make)
        assert fast == flask, name


def test_refusals_keep_their_status(wechat_app, sim):
    statuses = {name: call(wechat_app.wsgi_app, make())[0] for name, make in _requests(sim).items()}
    assert statuses["bad msg_signature"] == "403 FORBIDDEN"
    assert statuses["not XML"] == statuses["empty body"] == "400 BAD REQUEST"
    assert statuses["oversize body"] == statuses["oversize Content-Length"]
    assert statuses["oversize body"] == "413 REQUEST ENTITY TOO LARGE"
    assert statuses["body cut short"] == "400 BAD REQUEST"
    assert statuses["URL check"] == "200 OK"
    assert statuses["PUT"] == "405 METHOD NOT ALLOWED"
    assert statuses["trailing slash"] == "404 NOT FOUND"


def test_no_token_is_answered_as_flask_answers_it(wechat_app, wechat_settings, sim, monkeypatch):
    from bot.wechat import webhook

    wechat_app.config["BANZHUREN"] = dataclasses.replace(wechat_settings, wechat_token="")
    for make in (
        lambda: environ(query_string=sim.url_check()),
        lambda: environ("GET", query_string=sim.url_check()),
    ):
        monkeypatch.setattr(webhook, "_no_token_logged_at", None)
        fast, flask = both(wechat_app, make)
        assert fast == flask
        assert fast[0] == "503 SERVICE UNAVAILABLE"


def message(sim: WeChatSimulator, text: str, msg_id: int) -> dict:
    query, body = sim.text("o-fast", text, msg_id=msg_id)
    return environ(query_string=query, data=body)


def test_a_message_is_answered_as_flask_answers_it(wechat_app, sim):
    fast = call(wechat_app.wsgi_app, message(sim, "帮助", 11))
    flask = call(flask_only(wechat_app), message(sim, "帮助", 12))
    assert fast[:2] == flask[:2]
    assert fast[0] == "200 OK"
    assert sim.read_reply(fast[2])["Content"] == sim.read_reply(flask[2])["Content"]
    assert sim.read_reply(fast[2])["Content"] == texts.UNBOUND_HELP
    # WeChat's retry of each gets the same reply, whichever path answered it first.
    again = call(flask_only(wechat_app), message(sim, "帮助", 11))
    assert sim.read_reply(again[2])["Content"] == texts.UNBOUND_HELP


def test_the_flask_views_are_not_on_the_way(wechat_app, sim):
    def never(*_args, **_kw):
        raise AssertionError("the Flask view ran")

    wechat_app.view_functions["wechat.receive"] = never
    wechat_app.view_functions["wechat.verify_url"] = never
    status, _, body = call(wechat_app.wsgi_app, message(sim, "帮助", 21))
    assert status == "200 OK" and sim.read_reply(body)["Content"] == texts.UNBOUND_HELP
    status, _, body = call(wechat_app.wsgi_app, environ("GET", query_string=sim.url_check("e")))
    assert (status, body) == ("200 OK", b"e")


def test_the_database_session_is_closed_after_the_answer(wechat_app, sim):
    pool = core.db.get_engine().pool
    call(wechat_app.wsgi_app, message(sim, "帮助", 31))
    assert pool.checkedout() == 0


def test_an_error_is_answered_by_flask(wechat_app, sim, monkeypatch, caplog):
    from bot.wechat import webhook

    def broken(_message):
        raise RuntimeError("boom")

    monkeypatch.setattr(webhook, "to_incoming", broken)
    # Under TESTING Flask re-raises: so does the fast path.
    with pytest.raises(RuntimeError, match="boom"):
        call(wechat_app.wsgi_app, message(sim, "帮助", 41))
    wechat_app.config["TESTING"] = False
    fast = call(wechat_app.wsgi_app, message(sim, "帮助", 42))
    flask = call(flask_only(wechat_app), message(sim, "帮助", 43))
    assert fast == flask
    assert fast[0] == "500 INTERNAL SERVER ERROR"
    assert "Exception on /wechat [POST]" in caplog.text
