"""Two hosts' worth (issue 26, item 4): two gunicorn masters and two Celery workers, each in a
working directory of its own (as on two machines: no seal-key file, the key comes from
``BANZHUREN_SEAL_KEY``), sharing one PostgreSQL and one Redis.

A survey is split across both masters (each student's messages alternate between them, and
WeChat's retries of a message go to the other master, some while the first try is still being
handled); the round's notices go out through both workers. Everything is stored and sent exactly
once, and wrong passwords typed on one master lock the account on the other.

PostgreSQL only (``postgresql_only``): it is about several hosts sharing one database server,
which SQLite (a file on one host) cannot be.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import func, select

from core.wechat import crypto
from core.wechat.simulate import WeChatSimulator
from models import OutboundMessage, ReceivedMessage
from tests.integration.test_faults import (
    Gunicorn,
    SurveyDriver,
    _assert_every_answer_stored_once_and_in_place,
    _survey_school,
)
from tests.support.celery_worker import start_worker
from tests.support.dashboard import PASSWORD, csrf_from

pytestmark = pytest.mark.postgresql_only


class Response:
    """What SurveyDriver reads of a Flask test response, from a requests one."""

    def __init__(self, r: requests.Response) -> None:
        self.status_code = r.status_code
        self.data = r.content


class TwoMasters:
    """Each student's messages alternate between the two masters; every third message is
    retried by "WeChat" on the other master after the first answer, every seventh is sent to
    both at once (WeChat retried while the first try was still being handled)."""

    def __init__(self, masters: list[Gunicorn], sim: WeChatSimulator) -> None:
        self.masters = masters
        self.sim = sim
        self.turn: dict[str, itertools.count] = {}
        self.lock = threading.Lock()
        self.msg_ids = itertools.count(1_000_000)
        self.distinct = 0
        self.retries = 0
        self.mismatches: list[tuple[str, str]] = []
        self.sessions = threading.local()

    def _http(self) -> requests.Session:
        if not hasattr(self.sessions, "s"):
            self.sessions.s = requests.Session()
        return self.sessions.s

    def _post(self, master: Gunicorn, query: dict, body: bytes) -> requests.Response:
        return self._http().post(master.url, params=query, data=body, timeout=30)

    def _content(self, r: requests.Response) -> str:
        assert r.status_code == 200, r.content[:200]
        return self.sim.read_reply(r.content).get("Content", "")

    def say(self, openid: str, text: str) -> str:
        with self.lock:
            n = next(self.turn.setdefault(openid, itertools.count()))
            msg_id = next(self.msg_ids)
            self.distinct += 1
        first, other = self.masters[n % 2], self.masters[(n + 1) % 2]
        query, body = self.sim.text(openid, text, msg_id=msg_id)
        if n % 7 == 6:
            with ThreadPoolExecutor(2) as both:
                a = both.submit(self._post, first, query, body)
                b = both.submit(requests.post, other.url, params=query, data=body, timeout=30)
                replies = [self._content(a.result()), self._content(b.result())]
            with self.lock:
                self.retries += 1
            # The try that waited may answer "success" (nothing): WeChat shows the other.
            given = [r for r in replies if r]
            assert given, f"neither try of {text!r} was answered"
            if len(set(given)) > 1:
                self.mismatches.append(tuple(given))
            return given[0]
        reply = self._content(self._post(first, query, body))
        if n % 3 == 2:
            again = self._content(self._post(other, query, body))
            with self.lock:
                self.retries += 1
            if again != reply:
                self.mismatches.append((reply, again))
        return reply


class Driver(SurveyDriver):
    def __init__(self, masters: TwoMasters, definition) -> None:
        super().__init__(None, masters.sim, definition)
        self.masters = masters

    def say(self, openid: str, text: str) -> str:
        self.requests += 1
        return self.masters.say(openid, text)


def _run_concurrently(driver: Driver, openids: list[str]) -> None:
    def one(openid: str) -> None:
        state: dict = {}
        for _ in range(200):
            if not driver.step(openid, state):
                return
        pytest.fail(f"{openid} did not finish the survey: {state}")

    with ThreadPoolExecutor(4) as pool:
        for future in [pool.submit(one, o) for o in openids]:
            future.result()


def _login(master: Gunicorn, username: str, password: str) -> requests.Response:
    with requests.Session() as http:
        page = http.get(f"{master.base}/dashboard/login", timeout=10)
        return http.post(
            f"{master.base}/dashboard/login",
            data={"username": username, "password": password, "csrf_token": csrf_from(page.text)},
            allow_redirects=False,
            timeout=10,
        )


def test_two_hosts_share_one_database_and_one_redis(
    db_url, redis_url, redis_prefix, fake_wechat_api, session, tmp_path
):
    from core.accounts import create_user
    from core.reach.rounds import notify_opened
    from core.surveys.seal_key import key_file_path
    from models import SurveyRound, UserRole

    settings = fake_wechat_api.settings(
        db_url,
        redis_url=redis_url,
        redis_prefix=redis_prefix,
        celery_queue=redis_prefix,
        wechat_aes_key=crypto.random_aes_key(),
        wechat_template_remind="TPL-1",
    )
    hosts = [tmp_path / "host-a", tmp_path / "host-b"]
    for host in hosts:
        host.mkdir()
    school, openids = _survey_school(session, students=9)
    create_user(session, "xsc", PASSWORD, UserRole.AFFAIRS)
    session.commit()

    workers, masters = [], []
    boot = ThreadPoolExecutor(2)
    try:
        # The masters boot while the workers do (each takes seconds on a loaded machine).
        booting = [
            boot.submit(Gunicorn, settings, tmp_path, cwd=host, name=f"gunicorn-{i}")
            for i, host in enumerate(hosts)
        ]
        try:
            for i, host in enumerate(hosts):
                workers.append(start_worker(settings, tmp_path / f"worker-{i}.log", cwd=host))
        finally:
            masters.extend(f.result() for f in booting)

        # The round's notices: queued in one transaction, sent by whichever worker takes each.
        rnd = session.scalars(select(SurveyRound)).one()
        noticed = notify_opened(session, school.term, rnd, "满意度测评", dt.date.today())
        session.commit()
        assert noticed == len(openids)

        sim = WeChatSimulator(
            settings.wechat_token, settings.wechat_aes_key, settings.wechat_appid, mode="safe"
        )
        two = TwoMasters(masters, sim)
        driver = Driver(two, school.definition)
        _run_concurrently(driver, openids)

        # Every message stored and answered once, whichever master had it, however retried.
        assert two.retries > 10
        assert two.mismatches == []
        session.rollback()
        assert session.scalar(select(func.count()).select_from(ReceivedMessage)) == two.distinct
        _assert_every_answer_stored_once_and_in_place(session, settings, school, openids, driver)

        # Each notice sent once, by one of the two workers.
        deadline = dt.datetime.now() + dt.timedelta(seconds=60)
        while dt.datetime.now() < deadline:
            session.rollback()
            unsent = session.scalar(
                select(func.count())
                .select_from(OutboundMessage)
                .where(OutboundMessage.sent_at.is_(None))
            )
            if unsent == 0:
                break
            threading.Event().wait(0.2)
        assert unsent == 0, workers[0].log()[-2000:] + workers[1].log()[-2000:]
        assert {o: fake_wechat_api.messages_to(o) for o in openids} == dict.fromkeys(openids, 1)

        # Wrong passwords on both masters add up: the fifth locks the name on the other too.
        for i in range(4):
            r = _login(masters[i % 2], "xsc", "wrong-password-1")
            assert r.status_code == 401 and "用户名或密码错误" in r.text
        r = _login(masters[1], "xsc", "wrong-password-1")
        assert "账户已锁定" in r.text
        r = _login(masters[0], "xsc", PASSWORD)
        assert r.status_code == 401 and "已锁定" in r.text

        # Neither host wrote a key file: the key came from the environment.
        for host in hosts:
            assert not key_file_path(host).exists()
            assert [p.name for p in Path(host).iterdir()] == []
    finally:
        boot.shutdown()
        for master in masters:
            master.stop()
        for worker in workers:
            worker.stop()
