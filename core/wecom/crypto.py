"""The WeCom callback's envelope: always encrypted, the CorpID as receive id.

It is the official account's safe mode with two differences (PROTOCOL.md, "WeCom"): the URL
check signs ``echostr`` too and must be answered with echostr *decrypted*, and the plaintext
ends with the CorpID instead of an AppID. The AES work is wechatpy's (``wechatpy.enterprise``);
signatures are compared in constant time and every decryption failure is :class:`DecryptError`
(:mod:`core.wechat.crypto` does the same for the official account and is reused for the rest).
"""

from __future__ import annotations

import time

from wechatpy.enterprise import WeChatCrypto
from wechatpy.enterprise.crypto import PrpCrypto

from core.wechat.crypto import (
    DecryptError,
    MalformedEnvelope,
    aes_key_bytes,
    envelope_encrypt_field,
    sign,
    signature_matches,
    timestamp_fresh,
)

__all__ = [
    "DecryptError",
    "MalformedEnvelope",
    "decrypt",
    "encrypt",
    "encrypt_reply",
    "envelope_encrypt_field",
    "open_reply",
    "sign",
    "signature_matches",
    "timestamp_fresh",
]


def decrypt(encrypt: str, encoding_aes_key: str, corp_id: str) -> str:
    """An ``Encrypt`` field (or the URL check's echostr) to its plaintext; the CorpID at its
    end must be ours."""
    try:
        text = PrpCrypto(aes_key_bytes(encoding_aes_key)).decrypt(encrypt, corp_id)
    except Exception:
        # Garbage decrypts to garbage: bad Base64 or padding, an absurd length, another CorpID.
        raise DecryptError("message could not be decrypted") from None
    if not text:
        raise DecryptError("message decrypted to nothing")
    return text


def encrypt(text: str, encoding_aes_key: str, corp_id: str) -> str:
    return PrpCrypto(aes_key_bytes(encoding_aes_key)).encrypt(text, corp_id).decode("ascii")


def encrypt_reply(xml: str, *, token: str, encoding_aes_key: str, corp_id: str, nonce: str) -> str:
    """The envelope WeCom expects as the passive reply (wechatpy.enterprise's own)."""
    return WeChatCrypto(token, encoding_aes_key, corp_id).encrypt_message(
        xml, nonce, str(int(time.time()))
    )


def open_reply(body: bytes | str, *, token: str, encoding_aes_key: str, corp_id: str) -> str:
    """What WeCom does with our reply: check its signature, decrypt it (the simulator)."""
    import xmltodict

    try:
        doc = xmltodict.parse(body)["xml"]
        encrypted, timestamp = doc["Encrypt"], doc["TimeStamp"]
        nonce, signature = doc["Nonce"], doc["MsgSignature"]
    except Exception as exc:
        raise MalformedEnvelope(f"reply is not an encrypted envelope: {exc}") from None
    if not signature_matches(signature, token, timestamp, nonce, encrypted):
        raise DecryptError("reply signature does not match")
    return decrypt(encrypted, encoding_aes_key, corp_id)
