"""Issue 17: an evaluation stores each branch's meetings by id (not every attendee's name in
every teacher's row); the report names the attendees when it reads the rows, and details
stored before that keep the names they carry."""

from __future__ import annotations

from sqlalchemy import select

from core.evaluation.policy import resolve_branch_attendees
from core.evaluation.run import evaluate_term
from core.reports import evaluation_rows
from models import TermEvaluation
from tests.integration.policy_school import CODE, build_policy_school


def test_stored_by_meeting_id_and_named_when_read(session, settings):
    build_policy_school(session)
    evaluate_term(CODE, settings.min_respondents)
    session.rollback()
    stored = session.scalars(select(TermEvaluation.details)).all()
    meetings = [mt for d in stored for m in d["branch_months"] for mt in m["meetings"]]
    assert meetings, "the policy school's branch held meetings"
    assert all("meeting_id" in mt and "attendees" not in mt for mt in meetings)

    rows = {r["teacher"]: r for r in evaluation_rows(session, CODE)}
    september = rows["赵老师"]["branch_months"][0]["meetings"][0]
    assert set(september) == {"date", "title", "attendees"}
    assert september["attendees"] == sorted(["赵老师", "钱老师"])


def test_details_stored_with_names_are_left_as_they_are(session):
    legacy = {
        "branch_months": [
            {
                "month": "2025-09",
                "status": "held",
                "meetings": [{"date": "2025-09-10", "title": "例会", "attendees": ["甲"]}],
            }
        ]
    }
    own = dict(legacy)
    resolve_branch_attendees(session, [own, {}, {"branch_months": []}])
    assert own == legacy
