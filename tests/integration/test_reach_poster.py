"""Issue 15.4: class QR posters. ``banzhuren wechat poster`` asks the (fake) WeChat API for a
permanent QR code with scene ``class:<code>`` and draws it: the PNG's QR decodes to the URL the
API returned. Scanning it greets with the class's binding steps. The dashboard serves it within
the user's scope."""

from __future__ import annotations

import io

import pytest
import zxingcpp
from click.testing import CliRunner
from PIL import Image

import core.db
from models import UserRole
from tests.factories import make_class, make_department
from tests.support.dashboard import build_world, login, make_user


def decode(png: bytes) -> list[str]:
    with Image.open(io.BytesIO(png)) as image:
        return [r.text for r in zxingcpp.read_barcodes(image)]


def test_cli_poster_decodes_to_the_url_wechat_returned(db_url, fake_wechat_api, tmp_path):
    from bot.cli import main

    with core.db.SessionFactory() as s:
        dep = make_department(s, name="键盘系党总支")
        make_class(s, code="GQ2601", name="钢琴2601班", department=dep, entry_year=2026)
        s.commit()
    env = {
        "BANZHUREN_DATABASE_URL": db_url,
        "BANZHUREN_SECRET_KEY": "x" * 32,
        "BANZHUREN_WECHAT_APPID": fake_wechat_api.appid,
        "BANZHUREN_WECHAT_SECRET": fake_wechat_api.secret,
        "BANZHUREN_WECHAT_API_BASE": fake_wechat_api.url,
    }
    out = tmp_path / "poster.png"
    result = CliRunner().invoke(
        main, ["wechat", "poster", "--class", "GQ2601", "-o", str(out)], env=env
    )
    assert result.exit_code == 0, result.output
    [made] = fake_wechat_api.qrcodes
    assert made["scene"] == "class:GQ2601"
    assert decode(out.read_bytes()) == [made["url"]]
    with Image.open(out) as image:
        assert image.format == "PNG" and image.width >= 1000
    missing = CliRunner().invoke(
        main, ["wechat", "poster", "--class", "NOPE", "-o", str(tmp_path / "x.png")], env=env
    )
    assert missing.exit_code == 1 and "没有班级 NOPE" in missing.output


@pytest.mark.parametrize(
    ("event", "key"), [("subscribe", "qrscene_class:GQ2601"), ("SCAN", "class:GQ2601")]
)
def test_scanning_a_class_poster_greets_with_its_binding_steps(wechat, event, key):
    with core.db.SessionFactory() as s:
        dep = make_department(s, name="键盘系党总支")
        make_class(s, code="GQ2601", name="钢琴2601班", department=dep, entry_year=2026)
        s.commit()
    reply = wechat.event(event, key, openid="o-new-student")
    assert reply.startswith("欢迎钢琴2601班的同学") and "绑定 " in reply
    # Any other scene: the usual welcome (subscribe) / nothing special.
    assert "钢琴2601班" not in wechat.event("subscribe", "qrscene_other", openid="o-other")


def test_dashboard_poster_within_scope(wechat_app, wechat_settings, fake_wechat_api, session):
    world = build_world(session)
    make_user(session, "gq", UserRole.BRANCH, world.dep_a)
    client = wechat_app.test_client()
    login(client, "gq")
    own = client.get(f"/dashboard/classes/{world.class_a.code}/poster.png")
    assert own.status_code == 200 and own.mimetype == "image/png"
    assert decode(own.data) == [fake_wechat_api.qrcodes[-1]["url"]]
    assert client.get(f"/dashboard/classes/{world.class_b.code}/poster.png").status_code == 404


def test_no_chinese_font_refuses_in_chinese(db_url, fake_wechat_api, tmp_path, monkeypatch):
    """Without a CJK font the poster's text would be boxes: the CLI refuses before asking
    WeChat for a QR code, and says what to install."""
    import core.fonts
    from bot.cli import main

    empty = tmp_path / "fonts"
    empty.mkdir()
    monkeypatch.setattr(core.fonts, "FONT_DIRS", (empty,))
    with core.db.SessionFactory() as s:
        dep = make_department(s, name="键盘系党总支")
        make_class(s, code="GQ2601", name="钢琴2601班", department=dep, entry_year=2026)
        s.commit()
    env = {
        "BANZHUREN_DATABASE_URL": db_url,
        "BANZHUREN_SECRET_KEY": "x" * 32,
        "BANZHUREN_WECHAT_APPID": fake_wechat_api.appid,
        "BANZHUREN_WECHAT_SECRET": fake_wechat_api.secret,
        "BANZHUREN_WECHAT_API_BASE": fake_wechat_api.url,
    }
    out = tmp_path / "poster.png"
    result = CliRunner().invoke(
        main, ["wechat", "poster", "--class", "GQ2601", "-o", str(out)], env=env
    )
    assert result.exit_code == 1
    assert "没有中文字体" in result.stderr and "fonts-wqy-microhei" in result.stderr
    assert not out.exists() and fake_wechat_api.qrcodes == []
    # A font dropped into that folder is found (by its name) and the poster is made.
    (empty / "wqy-microhei.ttc").write_bytes(
        core.fonts.find_cjk_font(core.fonts.DEFAULT_DIRS).read_bytes()
    )
    made = CliRunner().invoke(
        main, ["wechat", "poster", "--class", "GQ2601", "-o", str(out)], env=env
    )
    assert made.exit_code == 0, made.output


def test_dashboard_poster_without_a_font_is_503(
    wechat_app, wechat_settings, fake_wechat_api, session, tmp_path, monkeypatch
):
    import core.fonts

    monkeypatch.setattr(core.fonts, "FONT_DIRS", (tmp_path,))
    world = build_world(session)
    make_user(session, "gq", UserRole.BRANCH, world.dep_a)
    client = wechat_app.test_client()
    login(client, "gq")
    response = client.get(f"/dashboard/classes/{world.class_a.code}/poster.png")
    assert response.status_code == 503
    assert "没有中文字体" in response.get_data(as_text=True)
    assert fake_wechat_api.qrcodes == []
