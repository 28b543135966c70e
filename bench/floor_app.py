"""The floors for ``bench/webhook.py``: a bare Flask app that does only what WeChat's protocol
requires (check the signature, decrypt, parse, encrypt an echo) with wechatpy, and nothing of
banzhuren's own (no database, no Redis, no dedup, no dialogue).

With ``BENCH_FLOOR_DSN`` set (issue 26, "the limit of the guarantees") it also runs, between
decrypting and replying, the one transaction a message's guarantees need, as
``bench/db_floor.py`` measures it: the per-sender advisory lock, the read of the earlier reply,
draft and allowance, the allowance's upsert, the sealed draft's upsert, the reply record and the
commit (durable before the reply), on psycopg directly, one connection per gunicorn thread.

Run by the benchmark as ``gunicorn --chdir bench floor_app:app`` with the same gunicorn settings
as the real app; configured by the same BANZHUREN_WECHAT_* variables.
"""

from __future__ import annotations

import os
import threading

from flask import Flask, Response, request
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.replies import TextReply

crypto = WeChatCrypto(
    os.environ["BANZHUREN_WECHAT_TOKEN"],
    os.environ["BANZHUREN_WECHAT_AES_KEY"],
    os.environ["BANZHUREN_WECHAT_APPID"],
)
app = Flask(__name__)
DSN = os.environ.get("BENCH_FLOOR_DSN")
_local = threading.local()


def _guarantees(openid: str, msg_id: str) -> None:
    import db_floor
    import psycopg

    conn = getattr(_local, "conn", None)
    if conn is None:
        conn = _local.conn = psycopg.connect(DSN)
    db_floor.message(conn, openid, msg_id)


@app.post("/wechat")
def echo() -> Response:
    args = request.args
    try:
        xml = crypto.decrypt_message(
            request.get_data(), args["msg_signature"], args["timestamp"], args["nonce"]
        )
    except (InvalidSignatureException, KeyError):
        return Response("bad signature", status=403)
    message = parse_message(xml)
    if DSN:
        _guarantees(message.source, str(message.id))
    reply = TextReply(content=getattr(message, "content", ""), message=message).render()
    body = crypto.encrypt_message(reply, args["nonce"], args["timestamp"])
    return Response(body, mimetype="application/xml")
