"""Issue 23: the customer-service allowance as a pure rule (``core.reach.allowance``), checked
against WeChat's rules as the fake WeChat API enforces them (``bot.demo.fake_wechat``, written
apart from the rule): whatever users do, whatever WeChat pushes and whenever the product
sends, a customer-service message the rule allows is one WeChat takes."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from wechatpy.events import EVENT_TYPES

from bot.demo.fake_wechat import FakeWeChatApi
from core.reach.allowance import (
    GRANTS,
    MENU,
    MESSAGE,
    NONE,
    SCAN,
    SUBSCRIBE,
    after_grant,
    grant_of,
    remaining,
)

T0 = dt.datetime(2026, 12, 7, 10, 0, tzinfo=dt.UTC)
MESSAGE_TYPES = ("text", "image", "voice", "video", "shortvideo", "location", "link", "file")
PUSHES = (
    "templatesendjobfinish",
    "masssendjobfinish",
    "location",
    "view",
    "view_miniprogram",
    "kf_create_session",
    "kf_close_session",
    "subscribe_msg_popup_event",
    "subscribe_msg_sent_event",
    "user_get_card",
    "qualification_verify_success",
    "unsubscribe",
)


@pytest.mark.parametrize("msg_type", MESSAGE_TYPES)
def test_a_message_grants_five_for_48_hours(msg_type):
    assert grant_of(msg_type) == MESSAGE
    assert GRANTS[MESSAGE].count == 5 and GRANTS[MESSAGE].period == dt.timedelta(hours=48)


@pytest.mark.parametrize(
    "event,kind",
    [
        ("click", MENU),
        ("CLICK", MENU),
        ("scancode_push", MENU),
        ("scancode_waitmsg", MENU),
        ("subscribe", SUBSCRIBE),
        ("subscribe_scan", SUBSCRIBE),
        ("subscribe_scan_product", SUBSCRIBE),
        ("SCAN", SCAN),
    ],
)
def test_actions_grant_three_for_a_minute(event, kind):
    assert grant_of("event", event) == kind
    assert GRANTS[kind].count == 3 and GRANTS[kind].period == dt.timedelta(minutes=1)


@pytest.mark.parametrize("event", PUSHES)
def test_wechat_pushes_grant_nothing(event):
    assert grant_of("event", event) is None


def test_every_other_wechatpy_event_and_device_messages_grant_nothing():
    granting = {"click", "scancode_push", "scancode_waitmsg", "scan"}
    granting |= {"subscribe", "subscribe_scan", "subscribe_scan_product"}
    for event in EVENT_TYPES:
        assert (grant_of("event", event) is not None) == (event in granting), event
    assert grant_of("device_event", "bind") is None
    assert grant_of("device_text") is None
    assert grant_of("event", None) is None and grant_of("") is None


def test_remaining_counts_down_and_expires_with_a_margin():
    assert remaining(MESSAGE, T0, 0, T0).remaining == 5
    assert remaining(MESSAGE, T0, 4, T0 + dt.timedelta(hours=47)).remaining == 1
    assert remaining(MESSAGE, T0, 5, T0) == NONE
    # Ten minutes short of 48 hours, the window counts as closed (clocks, the outbox's delay).
    assert remaining(MESSAGE, T0, 0, T0 + dt.timedelta(hours=47, minutes=50)) == NONE
    left = remaining(MENU, T0, 1, T0 + dt.timedelta(seconds=30))
    assert left.remaining == 2 and left.expires_at == T0 + dt.timedelta(seconds=50)
    assert remaining(MENU, T0, 0, T0 + dt.timedelta(seconds=50)) == NONE
    assert remaining(None, T0, 0, T0) == NONE and remaining("legacy", T0, 0, T0) == NONE
    assert not remaining(MENU, T0, 2, T0).allows(reserve=1)
    assert remaining(MENU, T0, 1, T0).allows(reserve=1)


def test_grants_do_not_add_up():
    # Five from a message, then a click: three for a minute, not eight.
    state = after_grant(None, None, 0, MESSAGE, T0)
    state = (state[0], state[1], 2)
    state = after_grant(*state, MENU, T0 + dt.timedelta(minutes=1))
    assert remaining(*state, T0 + dt.timedelta(minutes=1)).remaining == 3
    assert remaining(*state, T0 + dt.timedelta(minutes=3)) == NONE
    # A push keeps what there was.
    assert after_grant(*state, None, T0 + dt.timedelta(minutes=2)) == state


# --- the property: what the rule allows, WeChat takes ------------------------------------------

ACTIONS = st.one_of(
    st.tuples(st.just("user"), st.sampled_from(MESSAGE_TYPES), st.none()),
    st.tuples(
        st.just("user"),
        st.just("event"),
        st.sampled_from(
            ["CLICK", "scancode_push", "scancode_waitmsg", "subscribe", "SCAN", *PUSHES]
        ),
    ),
    st.tuples(st.just("send"), st.integers(0, 1), st.none()),  # reserve 0 (notice) or 1 (menu)
    st.tuples(
        st.just("wait"),
        st.sampled_from([1, 5, 20, 49, 50, 55, 59, 60, 61, 600, 3600, 47 * 3600, 48 * 3600]),
        st.none(),
    ),
)


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def seconds(self) -> float:
        return self.now.timestamp()


@settings(max_examples=300, deadline=None)
@given(st.lists(ACTIONS, max_size=40))
def test_the_rule_never_allows_what_wechat_refuses(actions):
    clock = Clock()
    fake = FakeWeChatApi()
    fake.enforce_allowance = True
    fake.clock = clock.seconds
    stored: tuple = (None, None, 0)  # what wechat_contacts would hold
    sent = 0
    for what, a, b in actions:
        if what == "user":
            fake.user_action("o-1", a, b)
            kind = grant_of(a, b.lower() if b else None)
            stored = after_grant(*stored, kind, clock.now)
        elif what == "wait":
            clock.now += dt.timedelta(seconds=a)
        else:
            if not remaining(*stored, clock.now).allows(reserve=a):
                continue
            with fake._lock:
                refusal = fake._allowance_refusal("o-1")
            assert refusal is None, (refusal, actions)
            stored = (stored[0], stored[1], stored[2] + 1)
            sent += 1
    assert fake.refusals == []


def test_the_rule_uses_what_wechat_grants():
    # Not overcautious: right after a message all five go, right after a click three.
    assert remaining(MESSAGE, T0, 0, T0 + dt.timedelta(hours=47)).remaining == 5
    assert remaining(SCAN, T0, 0, T0 + dt.timedelta(seconds=45)).remaining == 3
