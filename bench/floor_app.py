"""The floor for ``bench/webhook.py``: a bare Flask app that does only what WeChat's protocol
requires (check the signature, decrypt, parse, encrypt an echo) with wechatpy, and nothing of
banzhuren's own (no database, no Redis, no dedup, no dialogue).

Run by the benchmark as ``gunicorn --chdir bench floor_app:app`` with the same gunicorn settings
as the real app; configured by the same BANZHUREN_WECHAT_* variables.
"""

from __future__ import annotations

import os

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
    reply = TextReply(content=getattr(message, "content", ""), message=message).render()
    body = crypto.encrypt_message(reply, args["nonce"], args["timestamp"])
    return Response(body, mimetype="application/xml")
