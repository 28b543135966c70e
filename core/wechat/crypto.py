"""WeChat's message signatures and AES envelope (safe and compatible mode), as pure functions.

The webhook (:mod:`bot.wechat.webhook`) calls these in STYLE's order: check the signature
(:func:`signature_matches`, :func:`timestamp_fresh`) → decrypt (:func:`decrypt_with_keys`, the
current EncodingAESKey then the previous one) → parse; and on the way out
:func:`encrypt_reply` wraps the reply for an encrypted message.

wechatpy's ``WeChatCrypto`` does the AES work, but it compares signatures with ``!=`` and lets
whatever a corrupt ciphertext raises escape; here signatures are compared with
:func:`hmac.compare_digest` and every decryption failure becomes :class:`DecryptError`.
"""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import hmac
import re
import secrets
import string
import time
from collections.abc import Iterable

import xmltodict
from wechatpy.crypto import PrpCrypto


class DecryptError(ValueError):
    """The ``Encrypt`` field could not be decrypted with any configured key."""


class MalformedEnvelope(ValueError):
    """The body is not an XML document with an ``Encrypt`` field."""


def sign(*parts: str) -> str:
    """WeChat's signature: SHA-1 hex of the parts sorted and joined."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def signature_matches(expected: str | None, *parts: str) -> bool:
    """True when ``expected`` is the signature of ``parts`` (constant-time comparison)."""
    if not expected:
        return False
    return hmac.compare_digest(sign(*parts).encode("ascii"), expected.encode("utf-8", "replace"))


def timestamp_fresh(timestamp: str | None, max_age: int, now: float | None = None) -> bool:
    """True when ``timestamp`` (Unix seconds) is within ``max_age`` seconds of now, either way:
    an old signed request replayed later is refused."""
    if not timestamp or not timestamp.isdigit():
        return False
    now = time.time() if now is None else now
    return abs(now - int(timestamp)) <= max_age


def aes_key_bytes(encoding_aes_key: str) -> bytes:
    """The 32-byte AES key from the 43-character EncodingAESKey."""
    try:
        key = base64.b64decode(encoding_aes_key + "=", validate=True)
    except binascii.Error:
        raise ValueError("EncodingAESKey is not Base64") from None
    if len(key) != 32:
        raise ValueError("EncodingAESKey must decode to 32 bytes")
    return key


def random_aes_key() -> str:
    """A fresh EncodingAESKey (43 letters and digits), e.g. for tests and the demo."""
    while True:
        raw = base64.b64encode(secrets.token_bytes(32)).decode("ascii")[:43]
        if raw.isalnum():
            try:
                aes_key_bytes(raw)
            except ValueError:
                continue
            return raw


def random_nonce() -> str:
    return "".join(secrets.choice(string.digits) for _ in range(10))


# The safe-mode envelope as WeChat sends it, and nothing else: ``<xml>``, an optional
# ``ToUserName`` (an account id), the Base64 ``Encrypt`` field in CDATA, ``</xml>``, with XML
# whitespace between. Every body it matches is well-formed and gives xmltodict the same field;
# anything else (another shape, an XML declaration, entities, a compatible-mode body) is parsed.
_SAFE_ENVELOPE = re.compile(
    rb"<xml>[ \t\r\n]*"
    rb"(?:<ToUserName><!\[CDATA\[[A-Za-z0-9_-]{0,64}\]\]></ToUserName>[ \t\r\n]*)?"
    rb"<Encrypt><!\[CDATA\[([A-Za-z0-9+/=]+)\]\]></Encrypt>[ \t\r\n]*</xml>[ \t\r\n]*\Z"
)


def envelope_encrypt_field(body: bytes | str) -> str:
    """The ``Encrypt`` field of an encrypted message's XML body."""
    # Issue 26: a regular expression for the usual envelope, a fifth of xmltodict's time.
    match = _SAFE_ENVELOPE.match(body) if isinstance(body, bytes) else None
    if match is not None:
        return match.group(1).decode("ascii")
    return parsed_encrypt_field(body)


def parsed_encrypt_field(body: bytes | str) -> str:
    """:func:`envelope_encrypt_field` by the XML parser, whatever the body's shape."""
    try:
        doc = xmltodict.parse(body)
    except Exception as exc:  # expat errors, entity declarations refused by xmltodict
        raise MalformedEnvelope(f"body is not well-formed XML: {exc}") from None
    xml = doc.get("xml") if isinstance(doc, dict) else None
    encrypt = xml.get("Encrypt") if isinstance(xml, dict) else None
    if not isinstance(encrypt, str) or not encrypt.strip():
        raise MalformedEnvelope("encrypted message without an Encrypt field")
    return encrypt.strip()


class _PrpCrypto(PrpCrypto):
    """wechatpy's envelope, with the 16 random characters before the message drawn by
    :mod:`secrets` (wechatpy's ``random.sample`` of letters was a tenth of encrypting a reply;
    WeChat only strips them)."""

    def get_random_string(self) -> str:
        return secrets.token_hex(8)


@functools.lru_cache(maxsize=8)
def _prp(encoding_aes_key: str) -> PrpCrypto:
    """The envelope cipher of ``encoding_aes_key``, built once per key (issue 26: building
    cryptography's AES cipher twice a message was a tenth of the crypto's cost). It holds no
    state between calls: each encryption and decryption gets a context of its own, so threads
    share it. Raises ValueError for a malformed key (not cached)."""
    return _PrpCrypto(aes_key_bytes(encoding_aes_key))


def decrypt(encrypt: str, encoding_aes_key: str, appid: str) -> str:
    """Decrypt an ``Encrypt`` field into the message XML; checks the AppID at its end."""
    try:
        xml = _prp(encoding_aes_key).decrypt(encrypt, appid)
    except Exception:
        # Garbage decrypts to garbage: bad padding, an absurd length, non-UTF-8, wrong AppID.
        raise DecryptError("message could not be decrypted") from None
    if not xml:
        raise DecryptError("message decrypted to nothing")
    return xml


def decrypt_with_keys(encrypt: str, keys: Iterable[str | None], appid: str) -> tuple[str, str]:
    """Try each configured EncodingAESKey in turn (current first, then the previous one, which
    WeChat may still use for a while after a rotation in the admin console). Returns the
    message XML and the key that opened it (the reply is encrypted with the same key)."""
    for key in keys:
        if not key:
            continue
        try:
            return decrypt(encrypt, key, appid), key
        except DecryptError:
            continue
    raise DecryptError("message could not be decrypted with any configured EncodingAESKey")


def encrypt(xml: str, encoding_aes_key: str, appid: str) -> str:
    """The ``Encrypt`` field for ``xml``: random(16) + length + xml + AppID, AES-256-CBC, Base64."""
    return _prp(encoding_aes_key).encrypt(xml, appid).decode("ascii")


def encrypt_reply(
    xml: str,
    *,
    token: str,
    encoding_aes_key: str,
    appid: str,
    nonce: str,
    timestamp: str | None = None,
) -> str:
    """The envelope WeChat expects as the reply to an encrypted message."""
    timestamp = timestamp or str(int(time.time()))
    encrypted = encrypt(xml, encoding_aes_key, appid)
    signature = sign(token, timestamp, nonce, encrypted)
    return (
        "<xml>"
        f"<Encrypt><![CDATA[{encrypted}]]></Encrypt>"
        f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
        f"<TimeStamp>{timestamp}</TimeStamp>"
        f"<Nonce><![CDATA[{nonce}]]></Nonce>"
        "</xml>"
    )


def open_reply(body: bytes | str, *, token: str, encoding_aes_key: str, appid: str) -> str:
    """The inverse of :func:`encrypt_reply` (what WeChat does with our reply): check the
    signature, decrypt, return the reply XML. Used by the simulator."""
    try:
        doc = xmltodict.parse(body)["xml"]
        encrypted = doc["Encrypt"]
        timestamp = doc["TimeStamp"]
        nonce = doc["Nonce"]
        signature = doc["MsgSignature"]
    except Exception as exc:
        raise MalformedEnvelope(f"reply is not an encrypted envelope: {exc}") from None
    if not signature_matches(signature, token, timestamp, nonce, encrypted):
        raise DecryptError("reply signature does not match")
    return decrypt(encrypted, encoding_aes_key, appid)
