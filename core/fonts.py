"""A font with Chinese glyphs, for what the server draws itself (class QR posters). Without
one Pillow falls back to a Latin font and every Chinese character comes out as an empty box,
so callers refuse instead (:func:`require_cjk_font`), and ``banzhuren doctor`` checks it."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

# Debian's packages (deploy/Dockerfile and .ci/run install fonts-wqy-microhei), in order of
# preference; any other font whose file name says CJK is taken after them.
KNOWN_FONTS = (
    "wqy-microhei.ttc",
    "wqy-zenhei.ttc",
    "NotoSansCJK-Regular.ttc",
    "NotoSerifCJK-Regular.ttc",
    "SourceHanSans-Regular.ttc",
    "DroidSansFallbackFull.ttf",
)
NAME_HINTS = ("wqy", "cjk", "sourcehan", "droidsansfallback", "simsun", "simhei", "msyh")
FONT_SUFFIXES = (".ttc", ".ttf", ".otf")
DEFAULT_DIRS = (Path("/usr/share/fonts"), Path("/usr/local/share/fonts"))

# Where to look: None is fontconfig (fc-list) and then DEFAULT_DIRS. Tests set a folder.
FONT_DIRS: Sequence[Path] | None = None

INSTALL_HINT = (
    "请安装中文字体（Debian/Ubuntu：apt-get install fonts-wqy-microhei 或 fonts-noto-cjk；"
    "Docker 镜像已包含）"
)


class NoCJKFont(RuntimeError):
    def __init__(self) -> None:
        super().__init__(f"服务器上没有中文字体，海报上的中文会显示为方框；{INSTALL_HINT}")


def _rank(path: Path) -> tuple[int, str]:
    name = path.name
    return (KNOWN_FONTS.index(name) if name in KNOWN_FONTS else len(KNOWN_FONTS), name)


def _looks_cjk(path: Path) -> bool:
    name = path.name.lower()
    return name.endswith(FONT_SUFFIXES) and any(hint in name for hint in NAME_HINTS)


def _fontconfig() -> list[Path]:
    """Fonts fontconfig says cover Chinese (``fc-list :lang=zh``); empty without fontconfig."""
    if shutil.which("fc-list") is None:
        return []
    try:
        out = subprocess.run(
            ["fc-list", ":lang=zh", "file"], capture_output=True, text=True, timeout=10
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    paths = [Path(line.split(":")[0].strip()) for line in out.splitlines() if line.strip()]
    return [p for p in paths if p.suffix.lower() in FONT_SUFFIXES and p.is_file()]


def find_cjk_font(dirs: Sequence[Path] | None = None) -> Path | None:
    """The best font with Chinese glyphs under ``dirs`` (default :data:`FONT_DIRS`), or None."""
    dirs = FONT_DIRS if dirs is None else dirs
    candidates: list[Path] = []
    if dirs is None:
        candidates = _fontconfig()
        dirs = DEFAULT_DIRS
    if not candidates:
        for folder in dirs:
            if Path(folder).is_dir():
                candidates += [p for p in Path(folder).rglob("*") if _looks_cjk(p) and p.is_file()]
    return min(candidates, key=_rank) if candidates else None


def require_cjk_font() -> Path:
    """:func:`find_cjk_font`, or :class:`NoCJKFont` (a Chinese message) when there is none."""
    font = find_cjk_font()
    if font is None:
        raise NoCJKFont()
    return font
