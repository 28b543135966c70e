"""The user pages in a real browser (Debian's Chromium through Playwright): Student Affairs
adds a user, resets a password, unlocks an account, issues and revokes an API token."""

from __future__ import annotations

import urllib.request

from models import UserRole
from tests.factories import make_department
from tests.support.dashboard import PASSWORD, make_user


def _login(page, base: str, username: str, password: str = PASSWORD) -> None:
    page.goto(f"{base}/dashboard/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def _api_status(base: str, token: str) -> int:
    request = urllib.request.Request(
        f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()  # its open response would otherwise warn when collected
        return exc.code


def test_user_pages(session, live_server, browser, page, artifacts_dir):
    dep = make_department(session, name="钢琴系党总支")
    session.commit()
    make_user(session, "xuesheng", UserRole.AFFAIRS)
    make_user(session, "gangqin", UserRole.BRANCH, dep)
    base = live_server.url

    _login(page, base, "xuesheng")
    page.wait_for_url(f"{base}/dashboard/")
    page.click("nav >> text=用户管理")
    page.wait_for_url(f"{base}/dashboard/users")
    assert page.locator("#users tbody tr").count() == 2

    # Add a user with a generated password, shown once; it works in another browser.
    page.click("summary:has-text('添加用户')")
    page.fill("#user-new input[name=username]", "guanxian")
    page.select_option("#user-new select[name=role]", "branch")
    page.select_option("#user-new select[name=department]", label="钢琴系党总支")
    page.click("#user-new button[type=submit]")
    first_password = page.text_content("#secret")
    assert first_password and len(first_password) == 16
    other = browser.new_context(locale="zh-CN")
    newcomer = other.new_page()
    _login(newcomer, base, "guanxian", first_password)
    newcomer.wait_for_url(f"{base}/dashboard/")
    other.close()

    # Reset gangqin's password: the new one is shown once and works; the old one does not.
    page.goto(f"{base}/dashboard/users")
    page.click("tr[data-user=gangqin] button.reset")
    new_password = page.text_content("#secret")
    assert new_password and new_password != PASSWORD
    page.screenshot(path=str(artifacts_dir / "user-reset.png"))

    # Five wrong passwords from another browser lock gangqin there; Student Affairs unlocks.
    other = browser.new_context(locale="zh-CN")
    stranger = other.new_page()
    for _ in range(5):
        _login(stranger, base, "gangqin", "wrong-password-1")
    assert "已锁定" in stranger.text_content(".flash.error")
    page.goto(f"{base}/dashboard/users")
    assert "已锁定" in page.text_content("tr[data-user=gangqin] .status")
    page.click("tr[data-user=gangqin] button.unlock")
    page.wait_for_url(f"{base}/dashboard/users")
    assert "已解锁 gangqin" in page.text_content(".flash")
    assert page.text_content("tr[data-user=gangqin] .status").strip() == "正常"
    _login(stranger, base, "gangqin", new_password)
    stranger.wait_for_url(f"{base}/dashboard/")
    other.close()

    # Issue an API token (shown once, works), then revoke it (no longer works).
    page.fill("tr[data-user=gangqin] .token-new input[name=label]", "统计脚本")
    page.click("tr[data-user=gangqin] .token-new button")
    token = page.text_content("#secret")
    assert token.startswith("bzr_") and _api_status(base, token) == 200
    page.goto(f"{base}/dashboard/users")
    row = page.locator("tr[data-user=gangqin] .token", has_text="统计脚本")
    assert "最近使用" in row.text_content()
    row.locator("button.revoke").click()
    page.wait_for_url(f"{base}/dashboard/users")
    assert "已吊销" in page.text_content("tr[data-user=gangqin] .tokens")
    assert _api_status(base, token) == 401
    page.screenshot(path=str(artifacts_dir / "users.png"), full_page=True)

    # Every action is in the audit log.
    page.click("nav >> text=操作记录")
    log = page.text_content("main")
    for sentence in (
        "添加了后台用户 guanxian",
        "重置了用户 gangqin 的密码",
        "解锁了用户 gangqin",
        "为用户 gangqin 签发了 API 令牌",
        "吊销了用户 gangqin 的 API 令牌",
    ):
        assert sentence in log, sentence
