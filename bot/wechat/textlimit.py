"""Fitting reply texts into WeChat's limit (2048 bytes of UTF-8 for a text message), as pure
functions: a long text is cut into parts at line breaks where possible, never inside a
character. The webhook sends the first part as the reply and the rest as customer-service
messages (or shortens the text when it cannot send any)."""

from __future__ import annotations

TEXT_LIMIT_BYTES = 2048
ELLIPSIS = "\n……（内容较长，未显示完）"


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _cut(text: str, limit: int) -> int:
    """The largest index i such that text[:i] fits ``limit`` bytes, preferring a line break."""
    size = 0
    end = 0
    for i, ch in enumerate(text):
        size += utf8_len(ch)
        if size > limit:
            break
        end = i + 1
    if end >= len(text):
        return end
    newline = text.rfind("\n", 0, end)
    # A line break in the second half of the part: cut there, keeping parts reasonably full.
    if newline > end // 2:
        return newline + 1
    return end


def split_text(text: str, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """``text`` in parts of at most ``limit`` bytes each (one part when it fits)."""
    if limit < 8:
        raise ValueError("limit too small")
    parts: list[str] = []
    rest = text
    while utf8_len(rest) > limit:
        i = _cut(rest, limit)
        parts.append(rest[:i].rstrip("\n"))
        rest = rest[i:].lstrip("\n")
    if rest or not parts:
        parts.append(rest)
    return parts


def shorten(text: str, limit: int = TEXT_LIMIT_BYTES, marker: str = ELLIPSIS) -> str:
    """``text`` cut to fit ``limit`` bytes, ending with ``marker`` when anything was cut."""
    if utf8_len(text) <= limit:
        return text
    head = split_text(text, limit - utf8_len(marker))[0]
    return head + marker


def fit_messages(text: str, max_messages: int, limit: int = TEXT_LIMIT_BYTES) -> list[str]:
    """At most ``max_messages`` parts of ``text``; the last one shortened when more were needed."""
    parts = split_text(text, limit)
    if len(parts) <= max_messages:
        return parts
    kept = parts[: max_messages - 1]
    kept.append(shorten("\n".join(parts[max_messages - 1 :]), limit))
    return kept
