"""Binding by campus login end to end (issue 23.4): the real app (Flask test client) walks
``/bind/start`` → the fake WeChat's web authorisation → the fake CAS (real HTTP servers on
127.0.0.1) → ``/bind/cas``; every refusal binds nothing and says why in Chinese."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from sqlalchemy import select

from bot.bind import views
from bot.chat import help as texts
from core.binding import campus as campus_rules
from models import AuditLog, TeacherRole, WeChatBinding
from tests.factories import make_student, make_teacher
from tests.support.campus import PUBLIC_URL


def bindings(session) -> list[tuple[str, int | None, int | None]]:
    session.rollback()
    return [
        (b.openid, b.student_id, b.teacher_id)
        for b in session.scalars(select(WeChatBinding).order_by(WeChatBinding.openid))
    ]


def audit_rows(session) -> list[tuple[str, str, str, dict]]:
    session.rollback()
    return [
        (a.actor, a.action, a.target, a.detail)
        for a in session.scalars(select(AuditLog).order_by(AuditLog.id))
    ]


def text_of(response) -> str:
    return response.get_data(as_text=True)


def test_a_student_binds_through_the_campus_login_form(campus, session):
    student = make_student(session, student_no="2023010101", name="张三")
    session.commit()
    campus.fake_cas.add_account("2023010101", "pa55word")
    phone = campus.phone("o-zs")

    start = phone.client.get("/bind/start")
    assert start.status_code == 302
    authorize = urlsplit(start.headers["Location"])
    assert authorize.netloc == "open.weixin.qq.com" and authorize.fragment == "wechat_redirect"
    query = parse_qs(authorize.query)
    assert query["scope"] == ["snsapi_base"]
    assert query["appid"] == [campus.fake_wechat.appid]
    assert query["redirect_uri"] == [PUBLIC_URL + "/bind/wechat"]
    assert len(query["state"][0]) >= 16
    back = campus.fake_wechat.authorize("o-zs", start.headers["Location"])
    service = phone.to_cas(back)
    assert service == PUBLIC_URL + "/bind/cas"

    # The student logs in on the CAS page (a real HTTP form), which sends the phone back.
    login = requests.get(campus.fake_cas.url + "login", params={"service": service}, timeout=5)
    assert login.status_code == 200 and "统一身份认证" in login.text
    wrong = requests.post(
        campus.fake_cas.url + "login",
        data={"service": service, "username": "2023010101", "password": "nope"},
        allow_redirects=False,
        timeout=5,
    )
    assert wrong.status_code == 401
    right = requests.post(
        campus.fake_cas.url + "login",
        data={"service": service, "username": "2023010101", "password": "pa55word"},
        allow_redirects=False,
        timeout=5,
    )
    assert right.status_code == 302
    page = phone.client.get(right.headers["Location"])

    assert page.status_code == 200, text_of(page)
    body = text_of(page)
    assert "绑定成功" in body and "张三（学生，2023010101）" in body
    assert 'name="viewport"' in body
    assert page.headers["Cache-Control"] == "no-store"
    assert bindings(session) == [("o-zs", student.id, None)]
    assert campus.fake_cas.validations[-1][0] == "p3/serviceValidate"
    assert campus.fake_cas.validations[-1][3] == "SUCCESS"
    assert audit_rows(session) == [
        ("wechat:o-zs", "binding.bind", "2023010101", {"via": "cas", "role": "student"})
    ]
    # The chat knows the student now.
    assert campus.wechat("帮助", openid="o-zs") == texts.STUDENT_HELP


@pytest.mark.parametrize(
    ("role", "role_name", "help_text"),
    [
        (TeacherRole.HEAD_TEACHER, "兼职班主任", texts.HEAD_TEACHER_HELP),
        (TeacherRole.COUNSELLOR, "辅导员", texts.COUNSELLOR_HELP),
    ],
)
def test_staff_bind_by_an_attribute_when_cas_user_is_a_login_name(
    campus, campus_app, session, role, role_name, help_text
):
    teacher = make_teacher(session, staff_no="T2001", name="李老师", role=role)
    session.commit()
    campus_app.config["BANZHUREN"] = campus_app.config["BANZHUREN"].with_overrides(
        cas_user_attribute="employeeNumber"
    )
    page = campus.phone("o-li").bind("lilaoshi", {"employeeNumber": "T2001", "cn": "李"})
    assert page.status_code == 200, text_of(page)
    assert f"李老师（{role_name}，T2001）" in text_of(page)
    assert bindings(session) == [("o-li", None, teacher.id)]
    assert campus.wechat("帮助", openid="o-li") == help_text


def test_an_attribute_cas_does_not_release_is_a_clear_page(campus, campus_app, session):
    make_student(session, student_no="S1")
    session.commit()
    campus_app.config["BANZHUREN"] = campus_app.config["BANZHUREN"].with_overrides(
        cas_user_attribute="employeeNumber"
    )
    page = campus.phone("o-x").bind("S1", {"cn": "某人"})
    assert page.status_code == 502
    assert "没有返回学号/工号（属性 employeeNumber）" in text_of(page)
    assert "绑定 学号或工号 绑定码" in text_of(page)
    assert bindings(session) == []


def test_cas_version_2_validates_at_service_validate(campus, campus_app, session):
    student = make_student(session, student_no="S2")
    session.commit()
    campus_app.config["BANZHUREN"] = campus_app.config["BANZHUREN"].with_overrides(cas_version=2)
    page = campus.phone("o-2").bind("S2")
    assert page.status_code == 200, text_of(page)
    assert campus.fake_cas.validations == [
        ("serviceValidate", PUBLIC_URL + "/bind/cas", campus.fake_cas.validations[0][2], "SUCCESS")
    ]
    assert bindings(session) == [("o-2", student.id, None)]


def test_a_campus_id_not_in_the_roster_is_refused(campus, session):
    make_student(session, student_no="S1")
    session.commit()
    page = campus.phone("o-n").bind("2099999999")
    assert page.status_code == 404
    assert "名单里没有这个学号/工号" in text_of(page) and "2099999999" in text_of(page)
    assert bindings(session) == []
    assert audit_rows(session) == [
        ("wechat:o-n", "binding.refused", "2099999999", {"via": "cas", "reason": "not_in_roster"})
    ]


def test_an_openid_bound_to_someone_else_stays_bound(campus, session):
    first = make_student(session, student_no="S1", name="甲", binding_code="111111")
    make_student(session, student_no="S2", name="乙")
    session.commit()
    assert "绑定成功" in campus.wechat("绑定 S1 111111", openid="o-a")
    page = campus.phone("o-a").bind("S2")
    assert page.status_code == 409
    assert "本微信已绑定为 甲（学生）" in text_of(page) and "解绑" in text_of(page)
    assert bindings(session) == [("o-a", first.id, None)]
    # The code binding was audited too, by the same service.
    assert [row[1:3] for row in audit_rows(session)] == [
        ("binding.bind", "S1"),
        ("binding.refused", "S2"),
    ]


def test_binding_again_as_the_same_person_is_not_an_error(campus, session):
    student = make_student(session, student_no="S1", name="甲")
    session.commit()
    assert campus.phone("o-a").bind("S1").status_code == 200
    again = campus.phone("o-a").bind("S1")
    assert again.status_code == 200 and "已经绑定" in text_of(again)
    assert bindings(session) == [("o-a", student.id, None)]


def test_a_campus_id_bound_to_another_openid_until_released_with_unbind(campus, session):
    student = make_student(session, student_no="S1", name="甲")
    session.commit()
    assert campus.phone("o-old").bind("S1").status_code == 200
    page = campus.phone("o-new").bind("S1")
    assert page.status_code == 409
    assert "S1 已绑定在另一个微信上" in text_of(page) and "解绑" in text_of(page)
    assert bindings(session) == [("o-old", student.id, None)]

    assert "已解除绑定" in campus.wechat("解绑", openid="o-old")
    page = campus.phone("o-new").bind("S1")
    assert page.status_code == 200, text_of(page)
    assert bindings(session) == [("o-new", student.id, None)]
    assert [row[:2] for row in audit_rows(session)] == [
        ("wechat:o-old", "binding.bind"),
        ("wechat:o-new", "binding.refused"),
        ("wechat:o-old", "binding.unbind"),
        ("wechat:o-new", "binding.bind"),
    ]


def test_a_reused_ticket_is_refused(campus, session):
    first = make_student(session, student_no="S1")
    make_student(session, student_no="S2")
    session.commit()
    phone = campus.phone("o-1")
    service = phone.to_cas()
    ticket = campus.fake_cas.login("S1", service)
    assert phone.finish(service, ticket).status_code == 200
    # Someone who saw the ticket (a shared screen, a log) replays it in a fresh walk.
    thief = campus.phone("o-thief")
    page = thief.finish(thief.to_cas(), ticket)
    assert page.status_code == 403
    assert "登录凭据无效" in text_of(page) and "INVALID_TICKET" in text_of(page)
    assert bindings(session) == [("o-1", first.id, None)]


def test_a_ticket_issued_for_another_service_is_refused(campus, session):
    make_student(session, student_no="S1")
    session.commit()
    phone = campus.phone("o-1")
    service = phone.to_cas()
    foreign = campus.fake_cas.login("S1", "https://library.example.edu.cn/login")
    page = phone.finish(service, foreign)
    assert page.status_code == 403 and "INVALID_SERVICE" in text_of(page)
    assert bindings(session) == []


def test_a_missing_ticket_never_reaches_cas(campus, session):
    make_student(session, student_no="S1")
    session.commit()
    phone = campus.phone("o-1")
    service = phone.to_cas()
    page = phone.client.get(service)
    assert page.status_code == 400 and "没有收到登录凭据" in text_of(page)
    assert campus.fake_cas.validations == []
    assert bindings(session) == []


@pytest.mark.parametrize("state", ["", "wrong-state", None])
def test_a_wrong_or_missing_state_is_refused_before_wechat_is_asked(campus, session, state):
    make_student(session, student_no="S1")
    session.commit()
    phone = campus.phone("o-1")
    back = urlsplit(phone.start())
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    if state is None:
        query.pop("state")
    else:
        query["state"] = state
    page = phone.client.get("/bind/wechat", query_string=query)
    assert page.status_code == 400 and "链接已失效" in text_of(page)
    # The code was never exchanged: WeChat still holds it.
    assert query["code"] in campus.fake_wechat._oauth_codes
    # And the walk cannot be finished: there is no openid to bind.
    page = phone.client.get("/bind/cas", query_string={"ticket": "ST-anything"})
    assert page.status_code == 400 and "请从公众号进入" in text_of(page)
    assert bindings(session) == []


def test_a_state_from_another_browser_is_refused(campus, session):
    make_student(session, student_no="S1")
    session.commit()
    # The victim's WeChat comes back with a link an attacker made in their own browser.
    attacker_back = campus.phone("o-attacker").start()
    page = campus.phone("o-victim").client.get(attacker_back)
    assert page.status_code == 400
    assert bindings(session) == []


def test_a_state_is_good_once(campus, session):
    make_student(session, student_no="S1")
    session.commit()
    phone = campus.phone("o-1")
    back = phone.start()
    phone.to_cas(back)
    again = phone.client.get(back)
    assert again.status_code == 400 and "已经用过" in text_of(again)


@pytest.mark.parametrize("errcode", [40029, 40163])
def test_an_invalid_or_reused_code_is_refused(campus, session, errcode):
    make_student(session, student_no="S1")
    session.commit()
    phone = campus.phone("o-1")
    back = urlsplit(phone.start())
    query = {k: v[0] for k, v in parse_qs(back.query).items()}
    if errcode == 40029:
        query["code"] = "CODE-never-issued"
    else:
        campus.fake_wechat.handle_oauth_token(
            {
                "grant_type": "authorization_code",
                "appid": campus.fake_wechat.appid,
                "secret": campus.fake_wechat.secret,
                "code": query["code"],
            },
            b"",
        )
    page = phone.client.get("/bind/wechat", query_string=query)
    assert page.status_code == 400 and "微信授权码无效或已过期" in text_of(page)
    assert bindings(session) == []


def test_wechat_unreachable_offers_the_code_route(campus, session):
    phone = campus.phone("o-1")
    back = phone.start()
    campus.fake_wechat.inject_http_status(502)
    page = phone.client.get(back)
    assert page.status_code == 503
    assert "暂时无法连接微信" in text_of(page) and "绑定 学号或工号 绑定码" in text_of(page)


@pytest.mark.parametrize("how", ["down", "error page"])
def test_cas_unreachable_offers_the_code_route(campus, session, how):
    make_student(session, student_no="S1")
    session.commit()
    phone = campus.phone("o-1")
    service = phone.to_cas()
    ticket = campus.fake_cas.login("S1", service)
    if how == "down":
        campus.fake_cas.stop()
    else:
        campus.fake_cas.inject_http_status(500)
    page = phone.finish(service, ticket)
    assert page.status_code == 503
    body = text_of(page)
    assert "统一身份认证暂时无法访问" in body
    assert "绑定 学号或工号 绑定码" in body and "绑定 2023010101 123456" in body
    assert bindings(session) == []


def test_a_walk_older_than_the_limit_starts_over(campus, session, monkeypatch):
    make_student(session, student_no="S1")
    session.commit()
    phone = campus.phone("o-1")
    service = phone.to_cas()
    ticket = campus.fake_cas.login("S1", service)
    monkeypatch.setattr(views, "FLOW_SECONDS", -1)
    page = phone.finish(service, ticket)
    assert page.status_code == 400 and "绑定已超时" in text_of(page)
    assert campus.fake_cas.validations == []
    assert bindings(session) == []


def test_without_cas_the_pages_say_so(client, session):
    for path in ("/bind/start", "/bind/wechat?code=x&state=y", "/bind/cas?ticket=ST-1"):
        page = client.get(path)
        assert page.status_code == 404
        assert "尚未开通统一身份认证" in text_of(page)
        assert "绑定 学号或工号 绑定码" in text_of(page)


def test_a_hostile_campus_id_is_escaped_on_the_page(campus, session):
    page = campus.phone("o-1").bind("<script>alert(1)</script>")
    assert page.status_code == 404
    assert "<script>" not in text_of(page) and "&lt;script&gt;" in text_of(page)


def test_the_menu_command_creates_the_bind_button(db_url, fake_wechat_api, fake_cas):
    from click.testing import CliRunner

    from bot.cli import main

    env = {
        "BANZHUREN_DATABASE_URL": db_url,
        "BANZHUREN_SECRET_KEY": "test-secret" * 32,
        "BANZHUREN_WECHAT_APPID": fake_wechat_api.appid,
        "BANZHUREN_WECHAT_SECRET": fake_wechat_api.secret,
        "BANZHUREN_WECHAT_API_BASE": fake_wechat_api.url,
        "BANZHUREN_PUBLIC_URL": "https://bzr.example.edu.cn",
        "BANZHUREN_CAS_URL": fake_cas.url,
    }
    result = CliRunner().invoke(main, ["wechat", "menu"], env=env)
    assert result.exit_code == 0, result.output
    assert "帮助（绑定身份、使用帮助）" in result.output
    [menu] = fake_wechat_api.menus
    assert {"type": "view", "name": "绑定身份", "url": "https://bzr.example.edu.cn/bind/start"} in (
        menu["button"][2]["sub_button"]
    )
    # CAS without the public address stops the command with a Chinese message.
    env.pop("BANZHUREN_PUBLIC_URL")
    result = CliRunner().invoke(main, ["wechat", "menu"], env=env)
    assert result.exit_code != 0 and "必须同时设置 BANZHUREN_PUBLIC_URL" in result.output


def test_the_poster_command_draws_the_campus_instructions(
    db_url, fake_wechat_api, fake_cas, tmp_path, monkeypatch
):
    from click.testing import CliRunner

    import core.db
    import core.reach.poster as poster
    from bot.cli import main
    from tests.factories import make_class

    with core.db.SessionFactory() as s:
        make_class(s, code="GQ2601", name="钢琴2601班")
        s.commit()
    drawn = []
    real = poster.draw_poster
    monkeypatch.setattr(poster, "draw_poster", lambda *a, **k: drawn.append(a[3]) or real(*a, **k))
    env = {
        "BANZHUREN_DATABASE_URL": db_url,
        "BANZHUREN_SECRET_KEY": "x" * 32,
        "BANZHUREN_WECHAT_APPID": fake_wechat_api.appid,
        "BANZHUREN_WECHAT_SECRET": fake_wechat_api.secret,
        "BANZHUREN_WECHAT_API_BASE": fake_wechat_api.url,
    }
    args = ["wechat", "poster", "--class", "GQ2601", "-o", str(tmp_path / "p.png")]
    assert CliRunner().invoke(main, args, env=env).exit_code == 0
    campus_env = {
        **env,
        "BANZHUREN_PUBLIC_URL": "https://bzr.example.edu.cn",
        "BANZHUREN_CAS_URL": fake_cas.url,
    }
    assert CliRunner().invoke(main, args, env=campus_env).exit_code == 0
    assert drawn == [poster.INSTRUCTIONS, poster.CAMPUS_INSTRUCTIONS]


def test_scanning_a_poster_greets_with_the_campus_login(campus, session):
    from tests.factories import make_class

    make_class(session, code="GQ2601", name="钢琴2601班")
    session.commit()
    reply = campus.wechat.event("subscribe", "qrscene_class:GQ2601", openid="o-new")
    assert reply.startswith("欢迎钢琴2601班的同学") and "绑定身份" in reply
    assert "统一身份认证" in reply and "绑定 学号 绑定码" in reply


def test_phones_racing_for_one_campus_id_bind_exactly_one(campus, session):
    import threading

    student = make_student(session, student_no="S1")
    session.commit()
    phones = [campus.phone(f"o-race-{i}") for i in range(4)]
    walks = []
    for phone in phones:
        service = phone.to_cas()
        walks.append((phone, service, campus.fake_cas.login("S1", service)))
    barrier = threading.Barrier(len(walks))
    statuses: list[int] = []

    def finish(phone, service, ticket):
        barrier.wait()
        statuses.append(phone.finish(service, ticket).status_code)

    threads = [threading.Thread(target=finish, args=walk) for walk in walks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 409, 409, 409]
    [(openid, student_id, _)] = bindings(session)
    assert student_id == student.id and openid.startswith("o-race-")
    actions = [row[1] for row in audit_rows(session)]
    assert sorted(actions) == ["binding.bind"] + ["binding.refused"] * 3


def test_hostile_query_strings_get_a_page_never_a_5xx_and_bind_nothing(campus, session):
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    make_student(session, student_no="S1")
    session.commit()
    junk = st.text(max_size=300) | st.binary(max_size=100).map(lambda b: b.decode("latin-1"))

    @settings(
        max_examples=30,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(state=junk, code=junk, ticket=junk)
    def walk(state: str, code: str, ticket: str) -> None:
        phone = campus.phone("o-hostile")
        phone.start()  # a state of the phone's own, which the junk must not match
        page = phone.client.get("/bind/wechat", query_string={"state": state, "code": code})
        assert page.status_code == 400, text_of(page)
        # And with a real walk up to CAS, a junk ticket.
        service = phone.to_cas()
        page = phone.client.get(service, query_string={"ticket": ticket})
        assert page.status_code in (400, 403), text_of(page)
        assert "<h1" in text_of(page)
        if page.status_code == 400:
            assert not campus_rules.plausible_ticket(ticket)

    walk()
    assert bindings(session) == []


def test_a_ticket_cas_could_not_have_issued_never_reaches_cas(campus, session):
    make_student(session, student_no="S1")
    session.commit()
    phone = campus.phone("o-1")
    page = phone.finish(phone.to_cas(), "ST-1<script>")
    assert page.status_code == 400 and "不是统一身份认证发出的登录凭据" in text_of(page)
    assert campus.fake_cas.validations == []
    assert bindings(session) == []


def test_the_unbound_are_shown_the_campus_login_in_chat(campus, wechat, session):
    """With CAS configured, every reply to an unbound sender (帮助, a subscribe, a command that
    needs a binding) leads with the menu's 绑定身份; without it, only the code route."""
    for reply in (
        campus.wechat("帮助", openid="o-new"),
        campus.wechat.event("subscribe", None, openid="o-new"),
        campus.wechat("测评", openid="o-new"),
    ):
        assert "帮助 → 绑定身份" in reply and "统一身份认证" in reply, reply
        assert "绑定 学号或工号 绑定码" in reply, reply  # the code route stays the fallback
    for reply in (wechat("帮助", openid="o-new"), wechat("测评", openid="o-new")):
        assert "帮助 → 绑定身份" not in reply and "绑定 学号或工号 绑定码" in reply, reply
