"""Issue 15.3: tap-to-answer. With the setting on, a choice question goes out as a ``msgmenu``
customer-service message; the tap (a text message with ``bizmsgmenuid``) answers that question,
a tap on an older question's menu is refused, typed answers keep working, and a menu WeChat
refuses is sent as plain text."""

from __future__ import annotations

import pytest

import core.db
from core.celery_app import configure_celery
from core.surveys.drafts import load_draft
from core.wechat.simulate import WeChatSimulator
from tests.integration.survey_chat import start_round
from tests.integration.survey_school import make_school
from tests.support.wechat import WeChatDriver

OPENID = "o-tapper"


@pytest.fixture
def tap_settings(wechat_settings):
    settings = wechat_settings.with_overrides(wechat_tap_to_answer=True)
    configure_celery(settings)
    return settings


@pytest.fixture
def driver(tap_settings):
    from bot import create_app

    app = create_app(tap_settings)
    app.config.update(TESTING=True)
    sim = WeChatSimulator(
        tap_settings.wechat_token,
        tap_settings.wechat_aes_key,
        tap_settings.wechat_appid,
        mode="safe",
    )
    driver = WeChatDriver(app.test_client(), sim, openid=OPENID)
    with core.db.SessionFactory() as s:
        school = make_school(s)
        s.commit()
        start_round(s, school.term, school.definition)
        driver.bind(school.students["小刚"])  # rates 王明 only
    return driver


def tap(driver: WeChatDriver, item: dict) -> str:
    fields = {"Content": item["content"], "bizmsgmenuid": item["id"]}
    return driver.reply_of(driver.post(*driver.sim.message(OPENID, "text", fields)))


def answers(settings) -> dict:
    with core.db.SessionFactory() as s:
        return load_draft(s, settings, OPENID)["answers"]


def test_a_tap_answers_the_question(driver, tap_settings, fake_wechat_api):
    reply = driver("测评")
    assert "测评 1/" not in reply and "1. " not in reply  # the question is in the menu only
    [first] = fake_wechat_api.menus_to(OPENID)
    assert "测评 1/" in first["head_content"]
    assert [i["id"] for i in first["list"]][:2] == ["101", "102"]
    tap(driver, first["list"][1])
    [_, second] = fake_wechat_api.menus_to(OPENID)
    assert "测评 2/" in second["head_content"]
    assert list(answers(tap_settings).values()) == [2]
    # A tap on the first question's menu again: not taken for question 2.
    assert "之前一题" in tap(driver, first["list"][0])
    assert list(answers(tap_settings).values()) == [2]
    # Typed answers keep working.
    driver("3")
    assert list(answers(tap_settings).values()) == [2, 3]
    assert "测评 3/" in fake_wechat_api.menus_to(OPENID)[-1]["head_content"]


def test_a_refused_menu_is_sent_as_text(driver, tap_settings, fake_wechat_api):
    fake_wechat_api.inject(48001)  # the account may not send menu messages
    driver("测评")
    assert fake_wechat_api.menus_to(OPENID) == []
    [text] = fake_wechat_api.texts_to(OPENID)
    assert "测评 1/" in text and "1. " in text
