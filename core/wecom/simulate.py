"""Requests built as WeCom's servers send them to ``/wecom``, and replies read back as WeCom
reads them (tests, benches). Always encrypted, the CorpID as receive id:

    sim = WeComSimulator(token, aes_key, corp_id, agent_id)
    query, body = sim.text("T2001", "谈心 张三 学习压力大")
    sim.read_reply(client.post("/wecom", query_string=query, data=body).data)["Content"]
    query, plain = sim.url_check()  # GET /wecom must answer ``plain``
"""

from __future__ import annotations

import itertools
import secrets
import time
from typing import Any

import xmltodict

from core.wechat.crypto import random_nonce
from core.wechat.simulate import render_xml
from core.wecom import crypto

_msg_ids = itertools.count(secrets.randbelow(10**12) * 10**6 + 7)


class WeComSimulator:
    def __init__(self, token: str, aes_key: str, corp_id: str, agent_id: int) -> None:
        self.token = token
        self.aes_key = aes_key
        self.corp_id = corp_id
        self.agent_id = agent_id

    def text(
        self, userid: str, content: str, msg_id: int | None = None, create_time: int | None = None
    ) -> tuple[dict, bytes]:
        return self.message(userid, "text", {"Content": content}, msg_id, create_time)

    def event(
        self, userid: str, event: str, key: str | None = None, create_time: int | None = None
    ) -> tuple[dict, bytes]:
        fields: dict[str, Any] = {"Event": event}
        if key is not None:
            fields["EventKey"] = key
        return self.message(userid, "event", fields, None, create_time)

    def message(
        self,
        userid: str,
        msg_type: str,
        fields: dict[str, Any],
        msg_id: int | None = None,
        create_time: int | None = None,
    ) -> tuple[dict, bytes]:
        doc: dict[str, Any] = {
            "ToUserName": self.corp_id,
            "FromUserName": userid,
            "CreateTime": int(create_time if create_time is not None else time.time()),
            "MsgType": msg_type,
            **fields,
        }
        if msg_type != "event":
            doc["MsgId"] = int(msg_id if msg_id is not None else next(_msg_ids))
        doc["AgentID"] = self.agent_id
        return self.sign(render_xml(doc))

    def sign(self, xml: str, timestamp: int | None = None) -> tuple[dict, bytes]:
        """Query and body of ``POST /wecom`` for message ``xml``."""
        ts = str(int(timestamp if timestamp is not None else time.time()))
        nonce = random_nonce()
        encrypted = crypto.encrypt(xml, self.aes_key, self.corp_id)
        query = {
            "msg_signature": crypto.sign(self.token, ts, nonce, encrypted),
            "timestamp": ts,
            "nonce": nonce,
        }
        body = render_xml(
            {"ToUserName": self.corp_id, "AgentID": str(self.agent_id), "Encrypt": encrypted}
        )
        return query, body.encode("utf-8")

    def url_check(self, timestamp: int | None = None) -> tuple[dict, str]:
        """The query of WeCom's ``GET`` URL check, and the plaintext the server must answer."""
        ts = str(int(timestamp if timestamp is not None else time.time()))
        nonce = random_nonce()
        plain = str(secrets.randbelow(10**18))
        echostr = crypto.encrypt(plain, self.aes_key, self.corp_id)
        query = {
            "msg_signature": crypto.sign(self.token, ts, nonce, echostr),
            "timestamp": ts,
            "nonce": nonce,
            "echostr": echostr,
        }
        return query, plain

    def read_reply(self, body: bytes | str) -> dict:
        """The reply's fields, decrypted; ``{}`` for ``success`` or an empty body."""
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        if text.strip() in ("", "success"):
            return {}
        xml = crypto.open_reply(
            text, token=self.token, encoding_aes_key=self.aes_key, corp_id=self.corp_id
        )
        return dict(xmltodict.parse(xml)["xml"])
