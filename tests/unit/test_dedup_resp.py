"""bot.wechat.dedup's own Redis packing (issue 26) writes what redis-py's packer writes for the
commands the webhook sends."""

from __future__ import annotations

import pytest
from redis.connection import Connection

from bot.wechat.dedup import _pack


@pytest.mark.parametrize(
    "args",
    [
        ("SET", "bzr:wechat:msg:o-1:42", "pending:0123456789abcdef", "NX", "EX", 60),
        ("GET", "bzr:wechat:msg:o-1:42"),
        ("SET", "bzr:wechat:msg:键", '{"reply": "第3题 \\u4e2d ]]> \\r\\n"}', "EX", 86400),
        ("SET", b"raw\x00bytes", b"", "EX", 0),
        ("GET", "x" * 10_000),
    ],
)
def test_packed_as_redis_py_packs_it(args):
    packer = Connection()._command_packer
    assert _pack(args) == b"".join(packer.pack(*args))
