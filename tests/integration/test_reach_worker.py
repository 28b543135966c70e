"""Issue 15 with Redis and a real Celery worker: ``round open`` and ``round remind`` queue
their messages to the worker, which chooses customer-service or template message per student;
a second remind the same day sends none."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from click.testing import CliRunner

import core.db
from models import WeChatContact
from models.base import utcnow
from tests.integration.survey_school import make_school
from tests.integration.test_reach import daytime_zone
from tests.support.celery_worker import settings_env
from tests.support.wechat import grant_allowance


@pytest.fixture
def celery_worker_settings(db_url, redis_url, redis_prefix, fake_wechat_api):
    return fake_wechat_api.settings(
        db_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        celery_queue=redis_prefix,
        wechat_template_remind="TPL-1",
        timezone=daytime_zone(),
    )


def wait_for(condition, worker, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not condition():
        time.sleep(0.2)
    assert condition(), worker.log()[-3000:]


def test_remind_through_a_real_worker(celery_worker, celery_worker_settings, fake_wechat_api):
    from bot.cli import main
    from core.surveys.seal_key import generate_key

    with core.db.SessionFactory() as s:
        school = make_school(s)
        # 小红 wrote to the account three days ago: her allowance has expired; 小明 just now.
        s.add(
            WeChatContact(
                openid="oid-xiaohong",
                last_interaction_at=utcnow() - dt.timedelta(3),
                grant_kind="message",
            )
        )
        s.commit()
    grant_allowance("oid-xiaoming")
    env = settings_env(celery_worker_settings) | {"BANZHUREN_SEAL_KEY": generate_key()}
    runner = CliRunner()

    def cli(*args):
        result = runner.invoke(main, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == 0, result.output
        return result.output

    term, survey = school.term.code, school.definition.id
    cli("round", "open", "--term", term, "--survey", survey)
    wait_for(lambda: fake_wechat_api.messages_to("oid-xiaohong") == 1, celery_worker)
    wait_for(lambda: fake_wechat_api.messages_to("oid-xiaoming") == 1, celery_worker)
    out = cli("round", "remind", "--term", term, "--survey", survey)
    assert "提醒 2 人" in out and "后台任务" in out
    wait_for(lambda: fake_wechat_api.messages_to("oid-xiaohong") == 2, celery_worker)
    wait_for(lambda: fake_wechat_api.messages_to("oid-xiaoming") == 2, celery_worker)
    assert len(fake_wechat_api.templates_to("oid-xiaohong")) == 2  # window closed: template
    assert len(fake_wechat_api.texts_to("oid-xiaoming")) == 2  # allowance left: custom
    assert "提醒 0 人" in cli("round", "remind", "--term", term, "--survey", survey)
    assert fake_wechat_api.messages_to("oid-xiaoming") == 2
    assert fake_wechat_api.messages_to("oid-xiaoli") == 0
