"""Requests built exactly as WeChat's servers send them to ``/wechat``, and their replies read
back as WeChat reads them. Used by the tests, ``banzhuren demo`` and the webhook benchmark.

    sim = WeChatSimulator(token, aes_key, appid, mode="safe")
    query, body = sim.text("o-student-1", "测评")
    reply = sim.read_reply(client.post("/wechat", query_string=query, data=body).data)
    reply["Content"]

Modes: ``plain`` (signature only), ``compatible`` (plaintext fields and ``Encrypt``), ``safe``
(only ``Encrypt``); the last two add ``encrypt_type=aes`` and ``msg_signature``.
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any
from xml.sax.saxutils import escape

import xmltodict

from core.wechat import crypto

MODES = ("plain", "compatible", "safe")
_msg_ids = itertools.count(secrets.randbelow(10**12) * 10**6)


def _cdata(value: str) -> str:
    return "<![CDATA[" + value.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def render_xml(fields: dict[str, Any]) -> str:
    """WeChat's flat message XML: strings in CDATA, numbers bare."""
    parts = ["<xml>"]
    for name, value in fields.items():
        if value is None:
            continue
        text = str(value) if isinstance(value, int) else _cdata(str(value))
        parts.append(f"<{escape(name)}>{text}</{escape(name)}>")
    parts.append("</xml>")
    return "".join(parts)


class WeChatSimulator:
    """Builds ``(query, body)`` pairs for ``POST /wechat`` and reads replies."""

    def __init__(
        self,
        token: str,
        aes_key: str | None = None,
        appid: str | None = None,
        mode: str = "plain",
        account: str = "gh_banzhuren0001",
    ) -> None:
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}")
        if mode != "plain" and not (aes_key and appid):
            raise ValueError(f"{mode} mode needs aes_key and appid")
        self.token = token
        self.aes_key = aes_key
        self.appid = appid
        self.mode = mode
        self.account = account

    # --- messages -------------------------------------------------------------------------

    def text(
        self,
        openid: str,
        content: str,
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> tuple[dict, bytes]:
        return self.message(
            openid, "text", {"Content": content}, msg_id=msg_id, create_time=create_time
        )

    def voice(
        self,
        openid: str,
        recognition: str = "",
        msg_id: int | None = None,
        create_time: int | None = None,
        media_id: str | None = None,
    ) -> tuple[dict, bytes]:
        fields = {
            "MediaId": media_id or secrets.token_hex(16),
            "Format": "amr",
            "Recognition": recognition,
        }
        return self.message(openid, "voice", fields, msg_id=msg_id, create_time=create_time)

    def image(
        self,
        openid: str,
        media_id: str | None = None,
        pic_url: str | None = None,
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> tuple[dict, bytes]:
        media_id = media_id or secrets.token_hex(16)
        fields = {"PicUrl": pic_url or f"http://mmbiz.qpic.cn/{media_id}", "MediaId": media_id}
        return self.message(openid, "image", fields, msg_id=msg_id, create_time=create_time)

    def event(
        self,
        openid: str,
        event: str,
        key: str | None = None,
        create_time: int | None = None,
    ) -> tuple[dict, bytes]:
        """An event; ``event`` as WeChat spells it (``subscribe``, ``CLICK``, ...)."""
        fields: dict[str, Any] = {"Event": event}
        if key is not None:
            fields["EventKey"] = key
        return self.message(openid, "event", fields, msg_id=None, create_time=create_time)

    def message(
        self,
        openid: str,
        msg_type: str,
        fields: dict[str, Any],
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> tuple[dict, bytes]:
        """Any message type (``location``, ``link``, ``video``...) with its own ``fields``;
        non-event messages get a fresh ``MsgId`` unless one is given."""
        doc: dict[str, Any] = {
            "ToUserName": self.account,
            "FromUserName": openid,
            "CreateTime": int(create_time if create_time is not None else time.time()),
            "MsgType": msg_type,
            **fields,
        }
        if msg_type != "event":
            doc["MsgId"] = int(msg_id if msg_id is not None else next(_msg_ids))
        return self.sign(render_xml(doc), to_user=self.account)

    # --- the envelope ---------------------------------------------------------------------

    def sign(
        self, xml: str, to_user: str | None = None, timestamp: int | None = None
    ) -> tuple[dict, bytes]:
        """Query string and body for message ``xml`` in this simulator's mode."""
        ts = str(int(timestamp if timestamp is not None else time.time()))
        nonce = crypto.random_nonce()
        query = {
            "signature": crypto.sign(self.token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
        }
        if self.mode == "plain":
            return query, xml.encode("utf-8")
        assert self.aes_key and self.appid
        encrypted = crypto.encrypt(xml, self.aes_key, self.appid)
        query["encrypt_type"] = "aes"
        query["msg_signature"] = crypto.sign(self.token, ts, nonce, encrypted)
        if self.mode == "compatible":
            body = xml.replace("</xml>", f"<Encrypt>{_cdata(encrypted)}</Encrypt></xml>")
        else:
            body = render_xml({"ToUserName": to_user or self.account, "Encrypt": encrypted})
        return query, body.encode("utf-8")

    def url_check(self, echostr: str = "", timestamp: int | None = None) -> dict:
        """The query of WeChat's ``GET`` server URL check."""
        ts = str(int(timestamp if timestamp is not None else time.time()))
        nonce = crypto.random_nonce()
        return {
            "signature": crypto.sign(self.token, ts, nonce),
            "timestamp": ts,
            "nonce": nonce,
            "echostr": echostr or str(secrets.randbelow(10**18)),
        }

    def read_reply(self, body: bytes | str) -> dict:
        """The reply's fields (``{"MsgType": "text", "Content": ...}``), decrypted in the
        encrypted modes; ``{}`` for ``success`` or an empty body."""
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        if text.strip() in ("", "success"):
            return {}
        if self.mode != "plain" and "<Encrypt>" in text:
            assert self.aes_key and self.appid
            text = crypto.open_reply(
                text, token=self.token, encoding_aes_key=self.aes_key, appid=self.appid
            )
        doc = xmltodict.parse(text)["xml"]
        return dict(doc)
