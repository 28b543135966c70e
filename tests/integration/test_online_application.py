"""Issue 25.2: a head teacher applies online (第六条, 第九条). ``申请`` in an application month
answers with a one-time link to the mobile 业务审批表 form; the submission is the teacher's
application in the 第九条 workflow; each step reaches the teacher by WeChat; the 业务审批表 and
the 聘书 carry what they filled in. Through the real webhook and web app, on both backends."""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from docx import Document
from sqlalchemy import select

from core import applications
from core.outbox import drain
from core.wechat.simulate import WeChatSimulator
from models import (
    Appointment,
    AppointmentStatus,
    AuditLog,
    ChatLink,
    OutboundMessage,
    UserRole,
)
from models.base import utcnow
from tests.factories import make_class, make_department, make_teacher
from tests.support.dashboard import csrf_from, login, make_user, post_form
from tests.support.wechat import WeChatDriver

# The Flask test client's host, so that the session cookie follows WeChat's redirect back.
PUBLIC = "http://localhost"
D = dt.date


def this_month(settings) -> int:
    return utcnow().astimezone(settings.tz).month


def driver_for(settings) -> WeChatDriver:
    from bot import create_app

    app = create_app(settings)
    app.config.update(TESTING=True)
    sim = WeChatSimulator(
        settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid, mode="safe"
    )
    return WeChatDriver(app.test_client(), sim)


@pytest.fixture
def school(session):
    dep = make_department(session, name="管弦系党总支")
    other = make_department(session, name="声乐系党总支")
    g = make_class(session, code="G2027", name="管弦2027级", department=dep, entry_year=2027)
    make_class(session, code="S2027", name="声乐2027级", department=other, entry_year=2027)
    zhou = make_teacher(session, name="周老师", department=dep, staff_no="T3001")
    wu = make_teacher(session, name="吴老师", department=dep, staff_no="T3002")
    session.commit()
    return {"dep": dep, "other": other, "class": g, "zhou": zhou, "wu": wu}


@pytest.fixture
def open_settings(wechat_settings):
    """The current month is an application month (the webhook runs on the real clock)."""
    return wechat_settings.with_overrides(
        public_url=PUBLIC, apply_months=(this_month(wechat_settings),)
    )


def form_path(reply: str) -> str:
    m = re.search(re.escape(PUBLIC) + r"(/apply/[A-Za-z0-9_-]+)", reply)
    assert m, reply
    return m.group(1)


def open_form(web, fake_wechat_api, openid: str, path: str):
    """Open the link in ``openid``'s WeChat browser: WeChat's web authorisation, then the form."""
    first = web.get(path)
    assert first.status_code == 302, first.get_data(as_text=True)[:300]
    back = fake_wechat_api.authorize(openid, first.headers["Location"])
    returned = web.get(back)
    if returned.status_code != 302:
        return returned
    assert returned.headers["Location"].endswith(path)
    return web.get(path)


def good_form(today: dt.date) -> dict:
    return {
        "class_code": "G2027",
        "start_date": (today + dt.timedelta(days=60)).isoformat(),
        "end_date": "",
        "trained": "1",
        "note": "从事管弦乐教学十年，熟悉新生适应期的辅导",
    }


def messages_to(session, openid: str) -> list[str]:
    session.rollback()
    rows = session.scalars(
        select(OutboundMessage).where(OutboundMessage.openid == openid).order_by(OutboundMessage.id)
    )
    return [m.payload.get("content", "") for m in rows]


def test_apply_through_to_appointment_and_letter(
    session, school, open_settings, fake_wechat_api, app
):
    # Users first: the outbox's sender thread writes while the test runs (SQLite).
    make_user(session, "guanxian", UserRole.BRANCH, school["dep"])
    make_user(session, "xsc", UserRole.AFFAIRS)
    branch, affairs = app.test_client(), app.test_client()
    login(branch, "guanxian")
    login(affairs, "xsc")
    chat = driver_for(open_settings)
    web = chat.client
    chat.bind(school["zhou"], openid="o-zhou")
    reply = chat("申请", openid="o-zhou")
    assert "业务审批表" in reply and "24小时" in reply
    path = form_path(reply)

    page = open_form(web, fake_wechat_api, "o-zhou", path)
    html = page.get_data(as_text=True)
    assert page.status_code == 200 and "周老师" in html and "T3001" in html
    assert "管弦2027级" in html and "声乐2027级" not in html  # the teacher's own branch only
    token = csrf_from(html)
    today = utcnow().astimezone(open_settings.tz).date()
    data = good_form(today)

    # Without the CSRF token: refused, nothing filed, the link still good.
    no_csrf = web.post(path, data=data)
    assert no_csrf.status_code == 400 and "安全令牌" in no_csrf.get_data(as_text=True)
    assert session.scalar(select(Appointment)) is None

    done = web.post(path, data={**data, "csrf_token": token})
    body = done.get_data(as_text=True)
    assert done.status_code == 200 and "申请已提交" in body, body
    session.rollback()
    a = session.scalar(select(Appointment))
    assert a.status == AppointmentStatus.APPLIED and a.teacher_id == school["zhou"].id
    assert a.class_id == school["class"].id and a.trained is True
    assert a.application_note == data["note"]
    assert a.start_date == today + dt.timedelta(days=60)
    applied = session.scalar(select(AuditLog).where(AuditLog.action == "appointment.apply"))
    assert applied.actor == "wechat:T3001" and applied.detail["online"] is True
    # The link is spent: the form is gone and a second submission files nothing.
    assert web.get(path).status_code == 404
    again = web.post(path, data={**data, "csrf_token": token})
    assert again.status_code == 404 and "申请链接无效" in again.get_data(as_text=True)
    assert len(session.scalars(select(Appointment)).all()) == 1

    # The workflow, as the branch and Student Affairs work it on the dashboard.
    listing = branch.get("/dashboard/appointments").get_data(as_text=True)
    assert "周老师" in listing

    def step(client, target):
        response = post_form(
            client,
            "/dashboard/appointments",
            f"/dashboard/appointments/{a.id}/step",
            {"target": target},
        )
        assert response.status_code == 302, (target, response.get_data(as_text=True)[:300])

    step(branch, "branch_reviewed")
    step(affairs, "affairs_approved")
    step(affairs, "hr_filed")
    step(affairs, "appointed")
    told = messages_to(session, "o-zhou")
    assert [t.split("】")[0] for t in told] == [
        "【聘任申请",
        "【聘任进度",
        "【聘任进度",
        "【聘任进度",
        "【聘任",
    ]
    assert "等待党总支初审" in told[0] and "通过党总支初审" in told[1]
    assert "通过学生处审核" in told[2] and "人事处备案" in told[3]
    assert "已被聘为管弦2027级兼职班主任" in told[4]
    # They went out through WeChat (the local fake).
    drain()
    assert len(fake_wechat_api.texts_to("o-zhou")) == 5

    # The 业务审批表 carries what the teacher filled in; the 聘书 is issued.
    form = affairs.get(f"/dashboard/documents/application/{a.id}.docx")
    text = "\n".join(
        c.text for t in Document(io.BytesIO(form.data)).tables for r in t.rows for c in r.cells
    )
    assert "周老师" in text and "T3001" in text and "管弦2027级（G2027）" in text
    assert data["note"] in text and "已参加" in text
    assert "已初审同意" in text and "已审核同意" in text and "已备案" in text
    letter = affairs.get(f"/dashboard/documents/appointment/{a.id}.docx")
    assert letter.status_code == 200
    letter_text = "\n".join(p.text for p in Document(io.BytesIO(letter.data)).paragraphs)
    assert "周老师" in letter_text and "管弦2027级" in letter_text


def test_outside_the_months_says_when_applications_open(
    session, school, wechat_settings, fake_wechat_api
):
    month = this_month(wechat_settings)
    other = month % 12 + 1  # next month
    chat = driver_for(wechat_settings.with_overrides(public_url=PUBLIC, apply_months=(other,)))
    chat.bind(school["zhou"], openid="o-zhou")
    reply = chat("申请", openid="o-zhou")
    today = utcnow().astimezone(wechat_settings.tz).date()
    opens = applications.next_opening((other,), today)
    assert "不在兼职班主任申请时间内" in reply and f"每年{other}月" in reply
    assert f"{opens.year}年{opens.month}月1日" in reply and "/apply/" not in reply
    session.rollback()
    assert session.scalar(select(ChatLink)) is None


def test_tampered_and_foreign_links(session, school, open_settings, fake_wechat_api):
    chat = driver_for(open_settings)
    web = chat.client
    chat.bind(school["zhou"], openid="o-zhou")
    path = form_path(chat("申请", openid="o-zhou"))
    last = path[-1]
    tampered = path[:-1] + ("A" if last != "A" else "B")
    for bad in (tampered, path + "x", "/apply/" + "A" * 43, "/apply/%00"):
        response = web.get(bad)
        assert response.status_code == 404, bad
        assert "申请链接无效" in response.get_data(as_text=True)
    # A 日志本 link is not an application link, and the other way round.
    token = path.rsplit("/", 1)[1]
    assert web.get(f"/d/{token}").status_code == 404
    # Forwarded to 吴老师 (or anyone): WeChat's web authorisation gives another openid, and
    # the form does not open.
    chat.bind(school["wu"], openid="o-wu")
    other_phone = chat.client.application.test_client()
    refused = open_form(other_phone, fake_wechat_api, "o-wu", path)
    assert refused.status_code == 403 and "不是您的申请链接" in refused.get_data(as_text=True)
    assert other_phone.get(path).status_code == 302  # still asks WeChat, never shows the form
    # A return from WeChat this browser did not start: refused, WeChat not asked.
    stray = web.get("/apply/wechat", query_string={"code": "CODE1", "state": "made-up"})
    assert stray.status_code == 400 and "链接已失效" in stray.get_data(as_text=True)
    # The teacher's own WeChat opens it; the link dies with the binding of that account.
    assert "周老师" in open_form(web, fake_wechat_api, "o-zhou", path).get_data(as_text=True)
    chat("解绑", openid="o-zhou")
    assert web.get(path).status_code == 404


def test_bad_form_input_shows_the_form_again(session, school, open_settings, fake_wechat_api):
    chat = driver_for(open_settings)
    web = chat.client
    chat.bind(school["zhou"], openid="o-zhou")
    path = form_path(chat("申请", openid="o-zhou"))
    today = utcnow().astimezone(open_settings.tz).date()
    token = csrf_from(open_form(web, fake_wechat_api, "o-zhou", path).get_data(as_text=True))
    start = today + dt.timedelta(days=30)
    cases = [
        ({"class_code": ""}, "请选择拟带班级"),
        ({"class_code": "S2027"}, "本党总支的班级"),  # another branch's class
        ({"start_date": "2027-13-40"}, "不是有效日期"),
        ({"start_date": (today - dt.timedelta(days=1)).isoformat()}, "不能早于今天"),
        (
            {
                "start_date": start.isoformat(),
                "end_date": (start + dt.timedelta(days=400)).isoformat(),
            },
            "聘期为一年",
        ),
        ({"start_date": start.isoformat(), "end_date": start.isoformat()}, "应晚于开始日期"),
        ({"trained": ""}, "岗前培训"),
        ({"note": ""}, "请填写个人申请"),
        ({"note": "长" * 501}, "不能超过 500 个字"),
        ({"note": "含\x00字符"}, "无法识别的字符"),
    ]
    for change, message in cases:
        data = {**good_form(today), **change, "csrf_token": token}
        response = web.post(path, data=data)
        html = response.get_data(as_text=True)
        assert response.status_code == 400, change
        assert message in html, (change, html[:500])
        assert 'name="csrf_token"' in html  # the form again, to correct
    session.rollback()
    assert session.scalar(select(Appointment)) is None
    # Still usable after all that: the right input goes through.
    ok = web.post(path, data={**good_form(today), "csrf_token": token})
    assert ok.status_code == 200 and "申请已提交" in ok.get_data(as_text=True)


def test_no_public_url_and_unbound(session, school, wechat_settings, fake_wechat_api):
    chat = driver_for(wechat_settings.with_overrides(apply_months=(this_month(wechat_settings),)))
    chat.bind(school["zhou"], openid="o-zhou")
    reply = chat("申请", openid="o-zhou")
    assert "无法生成申请链接" in reply and "党总支" in reply


def test_months_rules():
    assert applications.next_opening((6,), D(2026, 12, 7)) == D(2027, 6, 1)
    assert applications.next_opening((6,), D(2026, 6, 30)) == D(2027, 6, 1)
    assert applications.next_opening((5, 6), D(2026, 5, 10)) == D(2026, 6, 1)
    assert applications.next_opening((1,), D(2026, 12, 1)) == D(2027, 1, 1)
    assert applications.default_start(D(2026, 6, 3)) == D(2026, 9, 1)
    assert applications.default_start(D(2026, 10, 3)) == D(2027, 9, 1)
