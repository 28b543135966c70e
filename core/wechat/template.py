"""Template messages within WeChat's limits since 2023-05-04 (PROTOCOL.md, "Outbound API"),
as pure functions: ``first`` and ``remark`` are no longer shown, and each keyword value is at
most 20 characters, on one line, without emoji."""

from __future__ import annotations

import re
import unicodedata

VALUE_LIMIT = 20
ELLIPSIS = "…"
# Fields WeChat no longer shows: a mapping that fills them loses what it put there.
RETIRED_FIELDS = frozenset({"first", "remark"})
# A template keyword's name: its type and its number (thing1, time2, character_string4...).
KEYWORD_NAME = re.compile(r"[a-z][a-z_]*[0-9]+")

_SPACES = re.compile(r"\s+")


def is_emoji(ch: str) -> bool:
    """Pictographs, dingbats, other symbols (Unicode "So": WeChat's check is not published, so
    every such symbol goes) and the invisible parts of emoji sequences (variation selectors,
    the zero-width joiner, keycaps, tags); private-use and lone surrogate code points too."""
    cp = ord(ch)
    return (
        unicodedata.category(ch) in ("So", "Co", "Cs")
        or cp >= 0x1F000  # mahjong... pictographs, emoticons, transport, flags, skin tones
        or 0x2600 <= cp <= 0x27BF  # miscellaneous symbols, dingbats
        or 0x2B00 <= cp <= 0x2BFF  # arrows and stars (⭐, ⬆)
        or 0x2300 <= cp <= 0x23FF  # technical (⌚, ⏰)
        or 0x2190 <= cp <= 0x21FF  # arrows (↗ with its emoji selector)
        or 0xFE00 <= cp <= 0xFE0F  # variation selectors
        or cp in (0x200D, 0x20E3, 0x2122, 0x2139, 0x00A9, 0x00AE, 0x3030, 0x303D)
    )


def fit_value(text: str, limit: int = VALUE_LIMIT) -> str:
    """``text`` as a keyword value: one line (line breaks and runs of spaces become one
    space), without emoji, at most ``limit`` characters (cut ones end with …, within the
    limit)."""
    text = "".join(ch for ch in str(text) if not is_emoji(ch))
    text = _SPACES.sub(" ", text).strip()
    if len(text) <= limit:
        return text
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def template_data(fields: dict[str, str], values: dict[str, str]) -> dict[str, dict[str, str]]:
    """The template's ``data``: each field (keyword name → variable) filled from ``values``,
    fitted by :func:`fit_value`."""
    return {name: {"value": fit_value(values.get(var, ""))} for name, var in fields.items()}
