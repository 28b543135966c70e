"""Issue 22 item 3: a database stalled under survey traffic, through real gunicorn run as
deploy/gunicorn.conf.py runs it, with requests waiting in its queue past WeChat's patience.
Every answer is filed under the question the student saw, and every confirmed survey is stored
once. A short run (``bench/stall.py`` runs 50 students and stalls of 20 s and 60 s)."""

from __future__ import annotations

import pytest

from tests.conftest import make_settings
from tests.support.stall import run_stall


def _check(figures) -> None:
    assert not figures.errors, figures.errors
    assert figures.timeouts > 0, "the stall never made WeChat give up: not a test"
    assert figures.misfiled_answers == 0, figures.line()
    assert figures.duplicate_ballots == 0, figures.line()
    assert figures.finished == figures.students, figures.line()
    # Every student confirmed (once each, one head teacher each), and it was stored once.
    assert figures.ballots == figures.opened == figures.students, figures.line()
    assert figures.confirmations <= figures.ballots, figures.line()


@pytest.mark.timeout(240)
def test_a_stalled_database_behind_a_proxy_files_no_answer_under_an_unseen_question(
    db_url, redis_url, redis_prefix, session, tmp_path
):
    settings = make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)
    figures = run_stall(session, settings, tmp_path, students=9, stall=16.0, limit=180)
    print(figures.line())
    _check(figures)


@pytest.mark.timeout(240)
def test_without_a_proxy_the_accept_time_counts(db_url, redis_url, redis_prefix, session, tmp_path):
    # One worker with one thread: requests queue in the worker, not in the kernel's backlog,
    # and only the stamping worker's accept time shows how long they waited.
    settings = make_settings(db_url, redis_url=redis_url, redis_prefix=redis_prefix)
    figures = run_stall(
        session,
        settings,
        tmp_path,
        students=6,
        stall=16.0,
        proxy_header=False,
        workers=1,
        threads=1,
        limit=180,
    )
    print(figures.line())
    _check(figures)
