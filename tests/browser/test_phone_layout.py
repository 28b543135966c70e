"""The dashboard at a desktop width (1280 px) and a phone's (390 px) in Debian's Chromium: the
page itself never scrolls sideways (wide tables scroll inside their own box), and on the phone
the navigation collapses behind 菜单. Screenshots go to test-artifacts/."""

from __future__ import annotations

import pytest

from core.evaluation.run import evaluate_term
from models import UserRole
from tests.integration.policy_school import CODE, build_policy_school
from tests.support.dashboard import PASSWORD, make_user

WIDTHS = (1280, 390)
NO_SIDEWAYS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@pytest.fixture
def school(session, settings):
    s = build_policy_school(session)
    evaluate_term(CODE, settings.min_respondents)
    session.rollback()
    make_user(session, "xsc", UserRole.AFFAIRS)
    return s


def _login(page, base: str) -> None:
    page.goto(f"{base}/dashboard/login")
    page.fill("input[name=username]", "xsc")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")


@pytest.mark.parametrize("width", WIDTHS)
def test_no_horizontal_scroll(school, live_server, browser, artifacts_dir, width):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 844})
    page = context.new_page()
    try:
        base = live_server.url
        _login(page, base)
        zhao = school.teachers["zhao"].id
        pages = {
            "overview": f"{base}/dashboard/?term={CODE}",
            "teacher": f"{base}/dashboard/teachers/{zhao}?term={CODE}",
            "teachers": f"{base}/dashboard/teachers?term={CODE}",
            "class": f"{base}/dashboard/classes/G2022?term={CODE}",
            "audit": f"{base}/dashboard/audit",
        }
        for name, url in pages.items():
            page.goto(url)
            widths = page.evaluate(
                "() => [document.documentElement.scrollWidth, document.documentElement.clientWidth]"
            )
            page.screenshot(path=str(artifacts_dir / f"{name}-{width}.png"), full_page=True)
            assert page.evaluate(NO_SIDEWAYS), f"{name} at {width}px scrolls sideways: {widths}"

        page.goto(pages["overview"])
        nav = page.locator("header.top nav")
        toggle = page.locator(".menu-toggle")
        if width <= 400:
            # Collapsed: the menu opens with the button, and its links are reachable.
            assert not nav.is_visible() and toggle.is_visible()
            toggle.click()
            assert nav.is_visible()
            assert toggle.get_attribute("aria-expanded") == "true"
            page.click("nav >> text=班主任考核")
            page.wait_for_url("**/dashboard/teachers*")
            # The wide table's rows are cards (issue 24): nothing to scroll, the grade on screen.
            table = page.locator("#teachers")
            assert table.evaluate("t => t.scrollWidth <= t.clientWidth")
            grade = page.locator('#teachers td[data-label="等级"]').first.bounding_box()
            assert grade is not None and grade["x"] >= 0 and grade["x"] + grade["width"] <= width
            assert page.evaluate(NO_SIDEWAYS)
        else:
            assert nav.is_visible() and not toggle.is_visible()
    finally:
        context.close()
