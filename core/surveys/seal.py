"""The seal on survey answers while a round is open (README, "Anonymity: threat model").

Answers confirmed during a round, and drafts in progress, are stored encrypted (AES-GCM) with a
key that is not in the database: ``BANZHUREN_SEAL_KEY`` when set (several hosts), else the key
file :func:`write_key_file` creates for ``banzhuren init`` in the working directory. The key
before a rotation (``BANZHUREN_SEAL_PREVIOUS_KEY``) still opens what it sealed, so rounds opened
before the rotation close normally.

Every plaintext is padded to a multiple of :data:`PAD_BYTES` before sealing, so the length of an
envelope (readable by anyone holding the database) does not tell how long a comment is, which
would otherwise link an envelope to its response once the round closes. The associated data binds
an envelope to its round and a draft to its openid: a row copied elsewhere does not open.
"""

from __future__ import annotations

import functools
import json
import secrets
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from core.settings import Settings
from core.surveys.seal_key import KEY_FILE, SealError, decode_key, key_file_path

PAD_BYTES = 4096
NONCE_BYTES = 12
# A format byte, so a later scheme can be told apart from this one.
VERSION = b"\x01"


@functools.lru_cache(maxsize=8)
def _keys(current: str | None, previous: str | None, file: str) -> tuple[AESGCM, ...]:
    texts = []
    if current is None:
        try:
            current = Path(file).read_text().strip()
        except FileNotFoundError:
            current = None
    for text in (current, previous):
        if text:
            texts.append(text)
    return tuple(AESGCM(decode_key(t)) for t in texts)


def keys(settings: Settings) -> tuple[AESGCM, ...]:
    """The keys, current first; raises :class:`SealError` when there is none."""
    # The key file's path only matters (and is only worked out) without a configured key.
    file = "" if settings.seal_key else str(key_file_path())
    found = _keys(settings.seal_key, settings.seal_previous_key, file)
    if not found:
        raise SealError(
            f"没有测评密封密钥：请设置 BANZHUREN_SEAL_KEY，或在工作目录运行 banzhuren init 生成 {KEY_FILE}"
        )
    return found


def has_key(settings: Settings) -> bool:
    try:
        keys(settings)
    except SealError:
        return False
    return True


def seal(settings: Settings, value: dict, context: str) -> bytes:
    """``value`` (JSON) padded and encrypted with the current key; ``context`` is bound to it."""
    plain = json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()
    # JSON ignores trailing blanks, so padding needs no length prefix.
    plain += b" " * (-len(plain) % PAD_BYTES)
    nonce = secrets.token_bytes(NONCE_BYTES)
    return VERSION + nonce + keys(settings)[0].encrypt(nonce, plain, context.encode())


def unseal(settings: Settings, sealed: bytes, context: str) -> dict:
    """What :func:`seal` sealed under ``context``; raises :class:`SealError` when no key opens it."""
    sealed = bytes(sealed)
    if sealed[:1] != VERSION:
        raise SealError("unknown envelope format")
    nonce, body = sealed[1 : 1 + NONCE_BYTES], sealed[1 + NONCE_BYTES :]
    for key in keys(settings):
        try:
            return json.loads(key.decrypt(nonce, body, context.encode()))
        except InvalidTag:
            continue
    raise SealError("none of the seal keys opens this envelope")


def envelope_context(round_id: int) -> str:
    return f"envelope:{round_id}"


def draft_context(openid: str) -> str:
    return f"draft:{openid}"
