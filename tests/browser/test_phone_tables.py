"""Issue 24: every dashboard page at a phone's width (390 px) and a desktop's (1280 px) in
Debian's Chromium keeps each table's key cells (``[data-key]``: 姓名, 满意度, 等级, 工作补贴, the
actions, the audit sentence …) inside the viewport; on the phone a table's rows become cards.
Also: action buttons stay whole (not one character a line), dates are never split at their
hyphens, the page never scrolls sideways. A screenshot of each page goes to test-artifacts/."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from core.evaluation.run import evaluate_term
from models import AppointmentStatus, Grade, TermEvaluation, UserRole
from tests.factories import make_appointment, make_term
from tests.integration.policy_school import CODE, build_policy_school
from tests.support.dashboard import PASSWORD, make_user

WIDTHS = (390, 1280)
PREVIOUS = "2024-2025-2"

# Per page: what must be on it with key cells (a table's rows carry them).
PAGES = {
    "overview": "/dashboard/?term={term}",
    "teachers": "/dashboard/teachers?term={term}",
    "teacher": "/dashboard/teachers/{zhao}?term={term}",
    "class": "/dashboard/classes/G2022?term={term}",
    "awards": "/dashboard/awards?term={term}",
    "trends": "/dashboard/trends",
    "comments": "/dashboard/comments?term={term}",
    "allowances": "/dashboard/allowances?term={term}",
    "appointments": "/dashboard/appointments",
    "rounds": "/dashboard/rounds?term={term}",
    "meetings": "/dashboard/meetings?term={term}",
    "roster": "/dashboard/roster",
    "audit": "/dashboard/audit",
    "users": "/dashboard/users",
    "password": "/dashboard/account/password",
}
# Pages whose tables must have rows here (so that the key-cell check has something to check).
WITH_ROWS = {
    "overview",
    "teachers",
    "teacher",
    "class",
    "awards",
    "trends",
    "allowances",
    "appointments",
    "rounds",
    "meetings",
    "audit",
    "users",
}

# Every key cell's box, and every row of every table that lacks a key cell.
KEY_CELLS = """() => {
  const boxes = [...document.querySelectorAll('table.data [data-key]')].map(el => {
    const r = el.getBoundingClientRect();
    return {text: el.textContent.trim().slice(0, 30), left: r.left, right: r.right,
            width: r.width, height: r.height};
  });
  const unmarked = [];
  document.querySelectorAll('table.data tbody tr').forEach(tr => {
    if (tr.cells.length > 1 && !tr.querySelector('[data-key]')) unmarked.push(tr.textContent.trim().slice(0, 40));
  });
  return {boxes, unmarked, viewport: document.documentElement.clientWidth};
}"""
# Dates kept on one line; buttons kept whole (one line of text) and on screen.
DATES_SPLIT = """() => [...document.querySelectorAll('.date')]
  .filter(el => el.getClientRects().length > 1).map(el => el.textContent)"""
BUTTONS = """() => [...document.querySelectorAll('main button')].filter(b => b.offsetParent !== null)
  .map(b => { const r = b.getBoundingClientRect();
    const line = parseFloat(getComputedStyle(b).lineHeight) || 20;
    return {text: b.textContent.trim(), left: r.left, right: r.right,
            lines: Math.round((b.clientHeight - parseFloat(getComputedStyle(b).paddingTop)
                     - parseFloat(getComputedStyle(b).paddingBottom)) / line)}; })"""
NO_SIDEWAYS = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"


@pytest.fixture
def school(session, settings):
    s = build_policy_school(session)
    # An application with Student Affairs (its step buttons) beside the appointed ones (解聘,
    # 辞职 with a date and a reason).
    make_appointment(
        session,
        teacher=s.teachers["qian"],
        school_class=s.classes["final"],
        start_date=dt.date(2025, 10, 1),
        status=AppointmentStatus.BRANCH_REVIEWED,
    )
    session.commit()
    evaluate_term(CODE, settings.min_respondents)
    session.rollback()
    # 孙老师 优秀 this term and the one before: a 先进 candidate on the awards page.
    previous = make_term(
        session, code=PREVIOUS, start_date=dt.date(2025, 2, 20), end_date=dt.date(2025, 7, 10)
    )
    sun = s.teachers["sun"]
    current = session.scalar(select(TermEvaluation).where(TermEvaluation.teacher_id == sun.id))
    current.override_grade = Grade.EXCELLENT
    current.override_reason = "复核后调整"
    session.add(
        TermEvaluation(
            term_id=previous.id,
            teacher_id=sun.id,
            department_id=current.department_id,
            classes=current.classes,
            respondents=8,
            eligible=8,
            response_rate=1.0,
            satisfaction=92.0,
            computed_grade=Grade.EXCELLENT,
            logs={"talk": 3},
            flags=[],
            months_in_office=5,
            allowance=1500,
        )
    )
    make_user(session, "xsc", UserRole.AFFAIRS)
    session.commit()
    return s


def _login(page, base: str) -> None:
    page.goto(f"{base}/dashboard/login")
    page.fill("input[name=username]", "xsc")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/dashboard/")


@pytest.mark.parametrize("width", WIDTHS)
def test_key_cells_stay_on_screen(school, live_server, browser, artifacts_dir, width):
    context = browser.new_context(locale="zh-CN", viewport={"width": width, "height": 844})
    page = context.new_page()
    try:
        base = live_server.url
        _login(page, base)
        for name, path in PAGES.items():
            url = base + path.format(term=CODE, zhao=school.teachers["zhao"].id)
            response = page.goto(url)
            assert response is not None and response.status == 200, (name, url)
            page.screenshot(path=str(artifacts_dir / f"tables-{name}-{width}.png"), full_page=True)
            assert page.evaluate(NO_SIDEWAYS), f"{name} at {width}px scrolls sideways"
            found = page.evaluate(KEY_CELLS)
            assert not found["unmarked"], f"{name}: rows without a key cell {found['unmarked']}"
            if name in WITH_ROWS:
                assert found["boxes"], f"{name}: no key cell found"
            right = found["viewport"]
            for box in found["boxes"]:
                assert box["width"] > 0 and box["height"] > 0, (name, box)
                assert box["left"] >= -0.5 and box["right"] <= right + 0.5, (
                    f"{name} at {width}px: key cell {box['text']!r} spans "
                    f"{box['left']:.0f}–{box['right']:.0f} of {right}"
                )
            assert page.evaluate(DATES_SPLIT) == [], f"{name}: a date split over lines"
            for button in page.evaluate(BUTTONS):
                assert button["lines"] <= 1, f"{name} at {width}px: button {button} wraps"
                assert button["left"] >= -0.5 and button["right"] <= right + 0.5, (name, button)
    finally:
        context.close()


def test_phone_cards_show_what_the_issue_missed(school, live_server, browser):
    """The cells the issue found cut off at 390 px, by name."""
    context = browser.new_context(locale="zh-CN", viewport={"width": 390, "height": 844})
    page = context.new_page()
    try:
        base = live_server.url
        _login(page, base)

        def on_screen(selector: str) -> list[str]:
            return page.evaluate(
                """sel => [...document.querySelectorAll(sel)].filter(el => {
                    const r = el.getBoundingClientRect();
                    return r.width > 0 && r.left >= 0 && r.right <= innerWidth; })
                  .map(el => el.textContent.trim())""",
                selector,
            )

        page.goto(f"{base}/dashboard/teachers?term={CODE}")
        labels = page.evaluate(
            "() => [...document.querySelectorAll('#teachers td[data-key]')].map(td => td.dataset.label)"
        )
        assert {"姓名", "满意度", "等级"} <= set(labels)
        assert any(
            t.startswith(("优秀", "良好", "合格", "不合格"))
            for t in on_screen("#teachers td[data-key]")
        )

        page.goto(f"{base}/dashboard/allowances?term={CODE}")
        allowance = on_screen('#report td[data-label="工作补贴(元)"]')
        assert allowance and all(t.isdigit() for t in allowance)

        page.goto(f"{base}/dashboard/appointments")
        buttons = on_screen("td.actions button")
        assert "辞职" in buttons and "解聘" in buttons and len(set(buttons)) >= 3, buttons

        page.goto(f"{base}/dashboard/users")
        assert "重置密码" in " ".join(on_screen("#users td.actions"))
        page.goto(f"{base}/dashboard/audit")
        assert any("登录了后台" in t for t in on_screen("td.audit"))
    finally:
        context.close()
