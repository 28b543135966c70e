"""Issue 23, end to end against the fake WeChat API enforcing WeChat's 2023 rules: random
sequences of user actions, WeChat's pushes, sends and waiting never make the product send a
customer-service message WeChat refuses; what each channel gets; menus keep a message for a
late reply; every event wechatpy knows gets ``success`` or a meaningful reply; templates stay
within WeChat's limits."""

from __future__ import annotations

import datetime as dt
import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, select
from wechatpy.events import EVENT_TYPES

import core.db
from bot.chat import help as texts
from core import outbox
from core.celery_app import configure_celery
from core.outbox import drain
from core.reach import window
from core.reach.menus import menu_fits
from core.wechat.api import WeChatApi
from models import OutboundMessage, WeChatContact
from models.base import utcnow
from tests.conftest import make_settings
from tests.factories import make_student
from tests.support.wechat import grant_allowance

TEMPLATE = "TPL-remind-23"
VALUES = {
    "title": "满意度测评",
    "term": "2026-2027-1",
    "deadline": "2026年12月20日",
    "hint": "回复「测评」",
}


@pytest.fixture(autouse=True)
def _embedded_celery_afterwards(db_url):
    yield
    drain()
    configure_celery(make_settings(db_url))


@pytest.fixture
def strict(wechat, wechat_settings, fake_wechat_api):
    """Settings with a template, and the fake enforcing the allowance (after ``wechat``, whose
    app configures the outbox with its own settings)."""
    settings = wechat_settings.with_overrides(wechat_template_remind=TEMPLATE)
    configure_celery(settings)
    fake_wechat_api.enforce_allowance = True
    return settings


class Clock:
    """One clock for the product's grants and spends and for the fake's rules."""

    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture
def clock(monkeypatch, fake_wechat_api) -> Clock:
    clock = Clock()
    monkeypatch.setattr(window, "clock", clock)
    fake_wechat_api.clock = lambda: clock.now.timestamp()
    return clock


def rows_to(openid: str) -> list[OutboundMessage]:
    with core.db.SessionFactory() as s:
        return list(
            s.scalars(
                select(OutboundMessage)
                .where(OutboundMessage.openid == openid)
                .order_by(OutboundMessage.id)
            )
        )


def queue(kind: str, openid: str) -> None:
    with core.db.session_scope() as s:
        if kind == "notice":
            outbox.queue_text(s, openid, "通知")
        elif kind == "reach":
            outbox.queue_reach(s, openid, "测评已开始", VALUES)
        else:
            menu = {"head_content": "第1题", "list": [{"id": "101", "content": "满意"}]}
            outbox.queue_menu(s, openid, menu, "第1题 1. 满意")
    drain()


USER_EVENTS = [
    ("CLICK", "HELP"),
    ("scancode_push", "SCAN1"),
    ("subscribe", None),
    ("subscribe", "qrscene_class:GQ2601"),
    ("SCAN", "class:GQ2601"),
]
PUSH_EVENTS = [
    ("TEMPLATESENDJOBFINISH", None),
    ("MASSSENDJOBFINISH", None),
    ("LOCATION", None),
    ("VIEW", "https://example.edu/"),
    ("kf_create_session", None),
    ("subscribe_msg_popup_event", None),
    ("user_get_card", None),
]
STEPS = st.one_of(
    st.tuples(st.just("text"), st.none()),
    st.tuples(st.just("event"), st.sampled_from(USER_EVENTS + PUSH_EVENTS)),
    st.tuples(st.sampled_from(["notice", "reach", "menu"]), st.none()),
    st.tuples(st.just("wait"), st.sampled_from([5, 45, 55, 70, 3600, 47 * 3600, 49 * 3600])),
)
_openids = itertools.count()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(steps=st.lists(STEPS, min_size=1, max_size=10))
def test_no_customer_service_message_wechat_would_refuse(
    strict, wechat, fake_wechat_api, clock, steps
):
    openid = f"o-prop-{next(_openids)}"
    for what, arg in steps:
        if what == "text":
            assert wechat("你好", openid=openid)  # a passive reply: spends nothing
        elif what == "event":
            wechat.event(*arg, openid=openid)
        elif what == "wait":
            clock.now += dt.timedelta(seconds=arg)
        else:
            queue(what, openid)
    assert [r for r in fake_wechat_api.refusals if r[0] == openid] == [], steps
    for row in rows_to(openid):
        assert row.refused_errcode is None
        if row.kind == "reach":  # always reaches: custom while it lasts, else the template
            assert row.sent_at is not None and row.channel in ("custom", "template"), (
                row.channel,
                row.last_error,
                steps,
            )
        else:
            assert row.sent_at is not None or outbox.NO_ALLOWANCE in (row.last_error or ""), row


def test_what_each_action_allows(strict, wechat, fake_wechat_api, clock):
    # A message: five customer-service messages, the sixth would be refused: template.
    wechat("你好", openid="o-five")
    for _ in range(6):
        queue("reach", "o-five")
    assert [r.channel for r in rows_to("o-five")] == ["custom"] * 5 + ["template"]
    # A click: three within the minute; a push grants nothing.
    wechat.event("CLICK", "HELP", openid="o-click")
    wechat.event("TEMPLATESENDJOBFINISH", openid="o-click")
    for _ in range(4):
        queue("notice", "o-click")
    sent = [r.sent_at is not None for r in rows_to("o-click")]
    assert sent == [True, True, True, False]
    assert outbox.NO_ALLOWANCE in rows_to("o-click")[-1].last_error
    # A minute later nothing is left, whatever was spent; a message starts again at five.
    wechat.event("SCAN", "class:X", openid="o-scan")
    clock.now += dt.timedelta(seconds=61)
    queue("reach", "o-scan")
    wechat("在吗", openid="o-scan")
    queue("reach", "o-scan")
    assert [r.channel for r in rows_to("o-scan")] == ["template", "custom"]
    assert fake_wechat_api.refusals == []
    # A template reminder's TEMPLATESENDJOBFINISH does not open the window (the bug).
    wechat.event("TEMPLATESENDJOBFINISH", openid="o-push")
    queue("reach", "o-push")
    [row] = rows_to("o-push")
    assert row.channel == "template" and fake_wechat_api.send_requests > 0
    assert fake_wechat_api.refusals == []


def test_a_wrong_count_is_refused_once_then_believed(strict, fake_wechat_api, clock):
    # Our count says five are left (e.g. written before an upgrade); WeChat knows better.
    grant_allowance("o-stale", at=clock.now)
    queue("reach", "o-stale")
    queue("reach", "o-stale")
    first, second = rows_to("o-stale")
    assert (first.channel, first.refused_errcode) == ("template", 45015)
    assert (second.channel, second.refused_errcode) == ("template", None)
    assert fake_wechat_api.refusals == [("o-stale", 45015)]


def test_a_menu_leaves_the_last_message_for_a_late_reply(strict, fake_wechat_api, clock):
    grant_allowance("o-menu", kind="menu", at=clock.now)  # a click: three
    fake_wechat_api.user_action("o-menu", "event", "CLICK")
    queue("menu", "o-menu")
    queue("menu", "o-menu")
    queue("menu", "o-menu")  # would take the last one: not sent
    menus = [r.channel for r in rows_to("o-menu")]
    assert menus == ["menu", "menu", None]
    assert fake_wechat_api.menus_to("o-menu") and len(fake_wechat_api.menus_to("o-menu")) == 2
    with core.db.SessionFactory() as s:
        assert window.current(s, "o-menu").remaining == 1
        assert not menu_fits(s, "o-menu")
    # The late reply (or summary) still goes.
    queue("notice", "o-menu")
    assert rows_to("o-menu")[-1].sent_at is not None
    assert fake_wechat_api.refusals == []


def test_the_survey_asks_in_the_passive_reply_when_a_menu_would_take_the_last(
    strict, fake_wechat_api, clock, session
):
    from bot.chat.binding import lookup_sender
    from bot.chat.context import Incoming, SenderState
    from bot.chat.router import handle_incoming
    from tests.integration.survey_chat import start_round
    from tests.integration.survey_school import make_school

    settings = strict.with_overrides(wechat_tap_to_answer=True)
    school = make_school(session)
    session.commit()
    start_round(session, school.term, school.definition)
    sender, _name = lookup_sender(session, "oid-xiaoming")
    incoming = Incoming(openid="oid-xiaoming", msg_type="text", text="测评", sent_at=clock.now)

    def ask(spent: int) -> tuple[str, int]:
        state = SenderState(grant_kind="message", last_interaction_at=clock.now, spent=spent)
        reply = handle_incoming(session, settings, incoming, sender, state) or ""
        session.flush()
        menus = session.scalar(
            select(func.count()).select_from(OutboundMessage).where(OutboundMessage.kind == "menu")
        )
        session.rollback()
        return reply, menus

    # Two left: one menu, one kept for a late reply; the question is not in the reply.
    reply, menus = ask(spent=3)
    assert menus == 1 and "1. " not in reply
    # One left: a menu would take it, so the question is in the passive reply (free).
    reply, menus = ask(spent=4)
    assert menus == 0 and "1/" in reply and "1. " in reply


def test_a_bound_student_gets_success_or_a_reply_to_every_wechatpy_event(wechat, session):
    student = make_student(session, student_no="2026023001", name="事件")
    session.commit()
    wechat.bind(student, openid="o-events")
    _every_event_gets_success_or_a_reply(wechat, "o-events", bound=True)


def test_an_unbound_user_gets_success_or_a_reply_to_every_wechatpy_event(wechat):
    _every_event_gets_success_or_a_reply(wechat, "o-stranger", bound=False)


# Events answered with a text: subscribes greet, a scan of a class poster greets, a menu click
# answers the button.
REPLYING = {"subscribe", "subscribe_scan", "subscribe_scan_product", "scan", "click"}


def _event_message(sim, openid: str, name: str, create_time: int):
    """The request WeChat sends for the event wechatpy registers as ``name``."""
    fields: dict = {}
    msg_type = "event"
    if name == "device_text":
        msg_type, fields = "device_text", {"DeviceType": "gh_1", "DeviceID": "dev1", "Content": "x"}
    elif name.startswith("device_"):
        msg_type = "device_event"
        fields = {"Event": name[len("device_") :], "DeviceType": "gh_1", "DeviceID": "dev1"}
    elif name == "subscribe_scan":
        fields = {"Event": "subscribe", "EventKey": "qrscene_class:NOPE"}
    elif name == "subscribe_scan_product":
        fields = {"Event": "subscribe", "EventKey": "scanbarcode|EAN13|6901234567892"}
    else:
        fields = {"Event": name.upper(), "EventKey": "HELP" if name == "click" else "k"}
    return sim.message(openid, msg_type, fields, create_time=create_time)


def _every_event_gets_success_or_a_reply(wechat, openid: str, bound: bool) -> None:
    import time

    names = [*sorted(EVENT_TYPES), "some_future_event"]
    base = int(time.time()) - 3000
    for i, name in enumerate(names):
        response = wechat.post(*_event_message(wechat.sim, openid, name, base + i))
        assert response.status_code == 200, (name, response.status_code)
        if response.data == b"success":
            assert name not in REPLYING, name
            continue
        reply = wechat.reply_of(response)
        assert texts.UNSUPPORTED_TYPE not in reply, name
        assert name in REPLYING, (name, reply)
        assert reply.strip(), name
    # Nothing the device or WeChat pushed granted customer-service messages.
    with core.db.SessionFactory() as s:
        contact = s.get(WeChatContact, openid)
        if contact is not None:
            assert contact.grant_kind in ("message", "menu", "subscribe", "scan")


def test_device_event_is_success_and_grants_nothing(wechat):
    import time

    for name in ("device_bind", "device_text", "device_subscribe_status"):
        response = wechat.post(*_event_message(wechat.sim, "o-device", name, int(time.time())))
        assert response.data == b"success", (name, response.data[:300])
        time.sleep(0)
    with core.db.SessionFactory() as s:
        assert s.get(WeChatContact, "o-device") is None


# --- templates --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    ["一二三四五六七八九十一二三四五六七八九十一", "两行\n文字", "表情🎉", "星⭐"],
)
def test_the_fake_refuses_what_wechat_refuses_in_a_template(
    wechat_settings, fake_wechat_api, value
):
    from wechatpy.exceptions import WeChatClientException

    api = WeChatApi(wechat_settings)
    with pytest.raises(WeChatClientException) as info:
        api.message.send_template("o-t", TEMPLATE, {"thing1": {"value": value}})
    assert info.value.errcode == 47003
    assert fake_wechat_api.templates == []
    api.message.send_template("o-t", TEMPLATE, {"thing1": {"value": "二十个字以内的一行"}})
    assert len(fake_wechat_api.templates) == 1


def test_first_and_remark_are_recorded_as_a_failure_signal(wechat_settings, fake_wechat_api):
    api = WeChatApi(wechat_settings)
    api.message.send_template("o-t", TEMPLATE, {"first": {"value": "标题"}})
    assert fake_wechat_api.retired_fields_used == ["first"]
    fake_wechat_api.retired_fields_used.clear()  # else the fixture fails this test


def test_round_templates_pass_the_fakes_checks(strict, fake_wechat_api, session):
    from core.reach import rounds as reach
    from tests.integration.survey_chat import start_round
    from tests.integration.survey_school import make_school

    school = make_school(session)
    session.commit()
    rnd = start_round(session, school.term, school.definition)
    rnd.definition = dict(rnd.definition or {}) | {
        "title": "2026—2027学年第一学期兼职班主任工作满意度测评🎓\n（学生卷）"
    }
    session.commit()
    result = reach.remind(session, strict, rnd, now=utcnow().replace(hour=3))  # 11:00 Beijing
    session.commit()
    drain()
    assert result.reminded >= 1
    templates = fake_wechat_api.templates
    assert len(templates) == result.reminded  # nobody wrote lately: all by template
    for sent in templates:
        assert set(sent["data"]) == {"thing1", "time2", "thing3"}
        assert sent["data"]["thing1"]["value"].endswith("…")
        assert len(sent["data"]["thing1"]["value"]) == 20
