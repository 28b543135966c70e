"""The survey seal's key (core.surveys.seal): made, parsed, and kept in a file beside the
working directory when ``BANZHUREN_SEAL_KEY`` is not set. Apart from the seal so that the
settings can check a configured key without importing the seal."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path

KEY_FILE = "banzhuren-seal.key"


class SealError(RuntimeError):
    """No seal key, a malformed one, or an envelope that none of the keys opens."""


def generate_key() -> str:
    """A new key: 32 random bytes in URL-safe base64."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def decode_key(text: str) -> bytes:
    """The 32 key bytes of ``text`` (URL-safe base64); raises :class:`SealError`."""
    try:
        raw = base64.urlsafe_b64decode(text.strip().encode())
    except (binascii.Error, ValueError):
        raise SealError("seal key is not base64") from None
    if len(raw) != 32:
        raise SealError("seal key must be 32 bytes")
    return raw


def key_file_path(directory: str | os.PathLike | None = None) -> Path:
    return Path(directory or os.getcwd()) / KEY_FILE


def write_key_file(directory: str | os.PathLike | None = None) -> Path | None:
    """Create the key file (mode 0600) unless it exists; its path, or None when it existed."""
    path = key_file_path(directory)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return None
    with os.fdopen(fd, "w") as f:
        f.write(generate_key() + "\n")
    return path
