"""Class QR posters (issue 15.4): a permanent parametric QR code of the official account with
scene ``class:<code>`` (WeChat's ``qrcode/create``, QR_LIMIT_STR_SCENE), drawn locally with the
class name and three lines of instructions, as a PNG to print or post in the class group.
Scanning it (a subscribe or SCAN event with that scene) greets the student with their class's
binding instructions (:func:`class_greeting`)."""

from __future__ import annotations

import io
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.fonts import require_cjk_font
from core.wechat.api import WeChatApi
from models import SchoolClass

SCENE_PREFIX = "class:"
INSTRUCTIONS = (
    "1. 微信扫描上方二维码，关注公众号",
    "2. 发送「绑定 学号 绑定码」（绑定码由辅导员发放）",
    "3. 绑定后回复「测评」参加班主任满意度测评",
)
# With the campus login configured (issue 23): no code to hand out, the menu's button instead.
CAMPUS_INSTRUCTIONS = (
    "1. 微信扫描上方二维码，关注公众号",
    "2. 点菜单「帮助 → 绑定身份」，用校园统一身份认证账号登录",
    "3. 绑定后回复「测评」参加班主任满意度测评",
)


def instructions_for(settings) -> tuple[str, ...]:
    return CAMPUS_INSTRUCTIONS if settings is not None and settings.campus_login else INSTRUCTIONS


def scene_for(class_code: str) -> str:
    return SCENE_PREFIX + class_code


def create_qrcode(api, class_code: str) -> str:
    """Ask WeChat for the class's permanent QR code; returns the URL it encodes."""
    result = api.qrcode.create(
        {
            "action_name": "QR_LIMIT_STR_SCENE",
            "action_info": {"scene": {"scene_str": scene_for(class_code)}},
        }
    )
    return result["url"]


def _font(path: Path, size: int):
    from PIL import ImageFont

    return ImageFont.truetype(str(path), size)


def draw_poster(
    url: str,
    class_name: str,
    department: str | None = None,
    instructions: tuple[str, ...] = INSTRUCTIONS,
    font_path: Path | None = None,
) -> bytes:
    """The poster as PNG bytes: the class name, the QR code of ``url``, the instructions.
    Raises :class:`core.fonts.NoCJKFont` when no Chinese font is found (the text would be
    boxes)."""
    font_path = font_path or require_cjk_font()
    import qrcode
    from PIL import Image, ImageDraw

    qr = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=14, border=4)
    qr.add_data(url)
    qr.make(fit=True)
    code = qr.make_image(fill_color="black", back_color="white").get_image().convert("RGB")
    font = _font(font_path, 40)
    measure = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    longest = max(measure.textlength(line, font=font) for line in instructions)
    width = int(max(1000, code.width + 200, longest + 200))
    height = 260 + code.height + 60 + 70 * len(instructions) + 60
    poster = Image.new("RGB", (width, height), "white")
    draw = ImageDraw.Draw(poster)

    def centred(y: int, text: str, size: int, fill: str = "black") -> None:
        font = _font(font_path, size)
        w = draw.textlength(text, font=font)
        draw.text(((width - w) / 2, y), text, font=font, fill=fill)

    centred(60, class_name, 72)
    if department:
        centred(160, department, 40, "#555555")
    poster.paste(code, ((width - code.width) // 2, 240))
    y = 240 + code.height + 40
    for line in instructions:
        draw.text(((width - longest) / 2, y), line, font=font, fill="black")
        y += 70
    out = io.BytesIO()
    poster.save(out, format="PNG")
    return out.getvalue()


def class_poster(session: Session, settings, class_code: str, department_id: int | None = None):
    """(PNG bytes, class) for ``class_code``, or None when there is no such class (or it lies
    outside ``department_id``). Calls WeChat's API (the settings' AppID and secret), once a
    Chinese font is known to be there (:class:`core.fonts.NoCJKFont` otherwise)."""
    font_path = require_cjk_font()
    query = select(SchoolClass).where(SchoolClass.code == class_code)
    if department_id is not None:
        query = query.where(SchoolClass.department_id == department_id)
    cls = session.scalar(query)
    if cls is None:
        return None
    url = create_qrcode(WeChatApi(settings), cls.code)
    return (
        draw_poster(url, cls.name, cls.department.name, instructions_for(settings), font_path),
        cls,
    )


def class_greeting(
    session: Session, event_key: str | None, campus_login: bool = False
) -> str | None:
    """The greeting for a scan of a class poster (EventKey ``qrscene_class:<code>`` on
    subscribe, ``class:<code>`` on SCAN); None for any other key or an unknown class.
    ``campus_login``: the campus login is configured, and offered first."""
    key = (event_key or "").strip()
    key = key.removeprefix("qrscene_")
    if not key.startswith(SCENE_PREFIX):
        return None
    name = session.scalar(
        select(SchoolClass.name).where(SchoolClass.code == key[len(SCENE_PREFIX) :])
    )
    if name is None:
        return None
    if campus_login:
        return (
            f"欢迎{name}的同学关注兼职班主任工作平台！\n"
            "请先绑定身份：点菜单「帮助 → 绑定身份」，用校园统一身份认证账号登录即可。\n"
            "也可以发送「绑定 学号 绑定码」（绑定码由辅导员发放）。"
            "绑定后回复「测评」即可参加班主任满意度测评（答案匿名）。"
        )
    return (
        f"欢迎{name}的同学关注兼职班主任工作平台！\n"
        "请先绑定身份：发送「绑定 学号 绑定码」，例如：\n绑定 2023010101 123456\n"
        "绑定码由辅导员发放。绑定后回复「测评」即可参加班主任满意度测评（答案匿名）。"
    )
