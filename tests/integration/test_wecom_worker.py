"""Staff messages through WeCom from a REAL Celery worker process (issue 25.5): the worker
reads the WeCom settings from its environment, fetches the app's token from the fake WeCom API,
sends there, and falls back to the official account for a user WeCom does not know."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from sqlalchemy import select

from bot import create_app
from core.wecom.simulate import WeComSimulator
from models import OutboundMessage, StudentFeedback, TeacherRole, WeChatBinding
from models.base import utcnow
from tests.factories import make_appointment, make_class, make_student, make_teacher
from tests.support.wechat import grant_allowance
from tests.support.wecom import WeComDriver, wecom_fields


@pytest.fixture
def celery_worker_settings(db_url, redis_url, redis_prefix, fake_wechat_api, fake_wecom_api):
    return fake_wechat_api.settings(
        db_url, redis_url=redis_url, redis_prefix=redis_prefix, **wecom_fields(fake_wecom_api)
    )


def wait_for(condition, seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert condition()


def test_feedback_through_wecom_from_a_real_worker_and_the_fallback(
    session, celery_worker, celery_worker_settings, fake_wecom_api, fake_wechat_api
):
    s = celery_worker_settings
    today = utcnow().astimezone(s.tz).date()
    counsellor = make_teacher(session, staff_no="C9", name="钱辅导", role=TeacherRole.COUNSELLOR)
    klass = make_class(session, counsellor_id=counsellor.id)
    teacher = make_teacher(session, staff_no="T9", name="韩老师")
    start = today - dt.timedelta(days=9)
    make_appointment(session, teacher=teacher, school_class=klass, start_date=start)
    make_student(session, name="张三", classes=[klass])
    session.add(WeChatBinding(openid="o-qian", teacher_id=counsellor.id))
    session.commit()
    grant_allowance("o-qian")  # issue 23: the counsellor wrote to the account lately
    fake_wecom_api.users.add("C9")
    sim = WeComSimulator(s.wecom_token, s.wecom_aes_key, s.wecom_corp_id, s.wecom_agent_id)
    wecom = WeComDriver(create_app(s).test_client(), sim)

    assert "转给辅导员钱辅导" in wecom("反馈 张三 最近情绪低落", userid="T9")
    wait_for(lambda: fake_wecom_api.texts_to("C9"))
    assert "兼职班主任韩老师反馈学生张三" in fake_wecom_api.texts_to("C9")[0]

    fake_wecom_api.users.discard("C9")  # left the school's WeCom: the account is used
    wecom("反馈 张三 连续两周没来上课", userid="T9")
    wait_for(lambda: fake_wechat_api.texts_to("o-qian"))
    assert fake_wechat_api.texts_to("o-qian")[0].endswith("连续两周没来上课")

    def forwarded() -> list:
        session.rollback()
        return list(session.scalars(select(StudentFeedback.forwarded_at)))

    wait_for(lambda: all(forwarded()) and len(forwarded()) == 2)
    session.rollback()
    channels = session.scalars(select(OutboundMessage.channel).order_by(OutboundMessage.id))
    assert list(channels) == ["wecom", "custom"]
    assert fake_wecom_api.token_requests == 1  # fetched once, by the worker, and shared
