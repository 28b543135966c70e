"""The campus login in Debian's Chromium at a phone's width (390 px), as a student walks it:
the menu's link, WeChat's silent authorisation (played by the fake WeChat API), the CAS login
form of the fake CAS (real HTTP), and the final page: readable, no sideways scrolling.
Screenshots go to test-artifacts/."""

from __future__ import annotations

from sqlalchemy import select

from models import WeChatBinding
from tests.factories import make_student
from tests.support.browser import LiveServer

NO_SIDEWAYS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


def test_a_student_binds_on_a_phone(
    campus_app, fake_wechat_api, fake_cas, session, browser, artifacts_dir
):
    student = make_student(session, student_no="2023010101", name="张三")
    session.commit()
    fake_cas.add_account("2023010101", "pa55word")
    server = LiveServer(campus_app).start()
    # The public address is the live server's, known once it listens.
    campus_app.config["BANZHUREN"] = campus_app.config["BANZHUREN"].with_overrides(
        public_url=server.url
    )
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    try:
        # The menu's link answers with a redirect to WeChat's authorisation page, which only
        # WeChat's own browser can open: the fake plays it (Playwright does not route a
        # redirect's target), and the phone's browser goes on where WeChat sends it back.
        start = context.request.get(server.url + "/bind/start", max_redirects=0)
        assert start.status == 302
        back = fake_wechat_api.authorize("o-zs", start.headers["location"])
        page = context.new_page()
        page.goto(back)
        page.wait_for_url(fake_cas.url + "login?**")
        page.fill("input[name=username]", "2023010101")
        page.fill("input[name=password]", "pa55word")
        page.click("button")
        page.wait_for_url(server.url + "/bind/cas?**")
        page.screenshot(path=str(artifacts_dir / "bind-success-390.png"), full_page=True)
        assert page.locator("h1").inner_text() == "绑定成功"
        assert "张三（学生，2023010101）" in page.inner_text("main")
        assert page.evaluate(NO_SIDEWAYS)
        # Readable on a phone without zooming.
        size = page.evaluate("() => parseFloat(getComputedStyle(document.body).fontSize)")
        assert size >= 16
        session.rollback()
        assert session.scalars(select(WeChatBinding.student_id)).all() == [student.id]

        # Reloading the last page replays nothing: the walk is over, nothing else is bound.
        page.reload()
        assert page.locator("h1").inner_text() == "请从公众号进入"
        page.screenshot(path=str(artifacts_dir / "bind-refused-390.png"), full_page=True)
        assert page.evaluate(NO_SIDEWAYS)
    finally:
        context.close()
        server.stop()
