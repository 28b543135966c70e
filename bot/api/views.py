"""The API's endpoints. Every query takes the token owner's department scope."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, g, jsonify, request
from sqlalchemy import select

from bot.api.openapi import SPEC
from bot.dashboard import access, exports, queries
from bot.dashboard.access import is_foreign, teacher_condition, visible_teacher
from bot.dashboard.principal import Principal
from bot.request_session import db, settings
from core.accounts import user_for_token
from core.evaluation import policy
from core.evaluation.grading import details_shown
from core.publication import readiness
from core.surveys.rounds import round_progress
from core.trends import trends_for, trends_json
from models import Grade, Incident, Meeting, SurveyRound, Teacher, Term, WorkLogEntry
from models.evaluation import GRADE_LABELS
from models.meetings import meetings_attended
from models.term import find_term

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.before_request
def _authenticate():
    if access.is_public(request.endpoint):
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    user = user_for_token(db(), token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        response = jsonify(error="缺少或无效的访问令牌：请在 Authorization 头中提供 Bearer <token>")
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="banzhuren"'
        return response
    g.principal = Principal(user)
    if not access.permitted(user.role, request.endpoint, request.view_args):
        # The same route rule as the dashboard's (bot.dashboard.access.ROUTES).
        response = jsonify(error="您的角色无权访问此接口")
        response.status_code = 403
        return response
    return None


@bp.errorhandler(400)
@bp.errorhandler(404)
def _json_error(exc):
    messages = {400: "参数有误", 404: "没有找到，或不在您的管辖范围内"}
    return jsonify(error=messages.get(exc.code, exc.description)), exc.code


def scope() -> int | None:
    return g.principal.scope


def _term(code: str) -> Term:
    term = find_term(db(), code)
    if term is None:
        abort(404)
    return term


@bp.get("/openapi.json")
def openapi():
    return jsonify(SPEC)


@bp.get("/me")
def me():
    p: Principal = g.principal
    return jsonify(username=p.username, role=p.role.value, department=p.department_name)


@bp.get("/terms")
def terms():
    return jsonify(
        [
            {
                "term": t.code,
                "start": t.start_date.isoformat(),
                "end": t.end_date.isoformat(),
                "evaluated": t.evaluated_at is not None,
                "published": t.published_at is not None,
            }
            for t in queries.all_terms(db())
        ]
    )


@bp.get("/terms/<code>/evaluations")
def evaluations(code: str):
    """The JSON report of DESIGN.md: one row per head teacher."""
    term = _term(code)
    return jsonify(exports.report_rows(db(), term, scope(), "evaluation"))


@bp.get("/terms/<code>/overview")
def overview(code: str):
    term = _term(code)
    summary = queries.summarize(queries.visible_evaluations(db(), term.id, scope()))
    ready = readiness(db(), term)
    return jsonify(
        term=term.code,
        teachers=summary.teachers,
        respondents=summary.respondents,
        eligible=summary.eligible,
        response_rate=summary.response_rate,
        # The mean of the teachers' satisfaction and its 95% interval over the teachers.
        satisfaction_pct=summary.satisfaction,
        ci_low=summary.interval[0],
        ci_high=summary.interval[1],
        grades={GRADE_LABELS[gr]: n for gr, n in summary.grades.items()},
        departments=[
            {
                "department": d.name,
                "teachers": d.teachers,
                "response_rate": d.response_rate,
                "satisfaction_pct": d.satisfaction,
                "ci_low": d.interval[0],
                "ci_high": d.interval[1],
            }
            for d in summary.by_department
        ],
        # 第十四条: each branch's months with or without a meeting, the term's trainings.
        meeting_rules=policy.school_rules_json(db(), policy.school_rules(db(), term, scope())),
        # Issue 22: rounds still open (not counted yet) and whether the results may be
        # published now; publishing itself is the dashboard's and the command line's.
        publication={
            "published": term.published_at is not None,
            "publishable": ready.allowed,
            "problems": ready.problems,
            "open_rounds": [
                {
                    "survey": r.survey,
                    "closes_on": r.closes_on.isoformat() if r.closes_on else None,
                }
                for r in ready.open_rounds
            ],
        },
    )


@bp.get("/terms/<code>/teachers")
def teachers(code: str):
    term = _term(code)
    grade = request.args.get("grade")
    department = request.args.get("department")
    try:
        grade_value = Grade(grade) if grade else None
    except ValueError:
        abort(400)
    if department and not (department.isdigit() and department.isascii() and len(department) <= 9):
        abort(400)
    rows = queries.visible_evaluations(
        db(),
        term.id,
        scope(),
        department_id=int(department) if department else None,
        grade=grade_value,
    )
    return jsonify([{"teacher_id": r.teacher_id, **r.report()} for r in rows])


@bp.get("/terms/<code>/teachers/<staff_no>")
def teacher(code: str, staff_no: str):
    """One teacher: the report row, and the per-question means and comments only at or above
    the minimum number of respondents."""
    session = db()
    term = _term(code)
    teacher_id = session.scalar(select(Teacher.id).where(Teacher.staff_no == staff_no))
    if teacher_id is None:
        abort(404)
    person = visible_teacher(session, scope(), teacher_id)
    if is_foreign(scope(), person):
        return jsonify(_foreign_teacher(session, person, term))
    rows = queries.visible_evaluations(session, term.id, None, teacher_id=person.id)
    respondents = queries.respondent_count(session, term.id, person.id)
    config = settings()
    shown = details_shown(
        respondents,
        rows[0].stored_response_rate if rows else None,
        config.min_respondents,
        config.min_participation,
    )
    entries, counts = queries.worklog(session, person.id, term)
    body: dict[str, Any] = {
        "staff_no": person.staff_no,
        "teacher": person.name,
        "evaluation": rows[0].report() if rows else None,
        "respondents": respondents,
        "breakdown_shown": shown,
        "questions": [
            {
                "question": q.question_id,
                "text": q.text,
                "mean_score": q.mean_score,
                "answered": q.answered,
            }
            for q in queries.question_stats(session, term.id, person.id)
        ]
        if shown
        else None,
        **_comments(queries.comments(session, term.id, person.id) if shown else None),
        **_work(
            entries,
            counts,
            meetings_attended(session, person.id, term),
            queries.incidents(session, person.id, term.id),
        ),
    }
    return jsonify(body)


def _comments(visible: queries.VisibleComments | None) -> dict[str, Any]:
    """Only comments Student Affairs reviewed and showed; withheld and pending ones as counts
    (DESIGN.md, Privacy). None below the minimum respondents or for another department's
    teacher."""
    if visible is None:
        return {"comments": None, "comments_withheld": None, "comments_pending": None}
    return {
        "comments": visible.shown,
        "comments_withheld": visible.withheld,
        "comments_pending": visible.pending,
    }


def _foreign_teacher(session, person: Teacher, term: Term) -> dict[str, Any]:
    """Another department's teacher seen by a branch through its classes: only their work in
    those classes (no evaluation, survey breakdown or comments)."""
    entries, counts = queries.worklog(session, person.id, term, access.worklog_condition(scope()))
    return {
        "staff_no": person.staff_no,
        "teacher": person.name,
        "evaluation": None,
        "respondents": None,
        "breakdown_shown": False,
        "questions": None,
        **_comments(None),
        **_work(
            entries,
            counts,
            access.meetings_in_scope(session, scope(), person.id, term),
            access.incidents_in_scope(session, scope(), person.id, term.id),
        ),
    }


def _work(
    entries: list[WorkLogEntry],
    counts: dict[str, int],
    meetings: list[Meeting],
    incidents: list[Incident],
) -> dict[str, Any]:
    """A teacher's work in the term as the API shows it: log counts by kind, entries,
    meetings attended and incidents."""
    return {
        "logs": counts,
        "worklog": [
            {
                "date": e.occurred_on.isoformat(),
                "kind": e.kind.value,
                # A 反馈 speaks of a student: its text for the branch of its class only.
                "text": e.text
                if access.feedback_text_visible(scope(), e)
                else access.FEEDBACK_HIDDEN,
            }
            for e in entries
        ],
        "meetings": [
            {"date": m.held_on.isoformat(), "kind": m.kind.value, "title": m.title}
            for m in meetings
        ],
        "incidents": [
            {"date": i.occurred_on.isoformat(), "kind": i.kind.value, "description": i.description}
            for i in incidents
        ],
    }


@bp.get("/trends")
def trends():
    """Satisfaction, grade and log counts term by term: the school (Student Affairs), each
    branch and each teacher the token's owner may see (core.trends)."""
    session = db()
    if set(request.args) - {"department", "teacher"}:
        abort(400)  # a misspelt filter must not quietly return everything
    department = request.args.get("department") or None
    staff_no = request.args.get("teacher") or None
    if department and not (department.isdigit() and department.isascii() and len(department) <= 9):
        abort(400)
    if staff_no is not None and len(staff_no) > 32:
        abort(400)
    own = scope()
    wanted = int(department) if department else None
    if own is not None and wanted not in (None, own):
        abort(404)
    teacher_id = None
    if staff_no is not None:
        teacher_id = session.scalar(select(Teacher.id).where(Teacher.staff_no == staff_no))
        if teacher_id is None:
            abort(404)
        visible_teacher(session, own, teacher_id)
    data = trends_for(
        session,
        own,
        settings().min_respondents,
        department_id=wanted,
        teacher_id=teacher_id,
    )
    return jsonify(trends_json(data))


@bp.get("/terms/<code>/awards")
def awards(code: str):
    return jsonify(exports.report_rows(db(), _term(code), scope(), "award"))


@bp.get("/terms/<code>/allowances")
def allowances(code: str):
    return jsonify(exports.report_rows(db(), _term(code), scope(), "allowance"))


@bp.get("/terms/<code>/rounds")
def rounds(code: str):
    session = db()
    term = _term(code)
    visible = set(session.scalars(select(Teacher.id).where(teacher_condition(scope()))))
    result = []
    for r in session.scalars(select(SurveyRound).where(SurveyRound.term_id == term.id)):
        # A branch's figures count its own classes' students only (a borrowed teacher's
        # other classes are another department's business).
        per_teacher = [
            p for p in round_progress(session, r.id, scope()) if p["teacher_id"] in visible
        ]
        eligible = sum(p["eligible"] for p in per_teacher)
        answered = sum(p["answered"] for p in per_teacher)
        result.append(
            {
                "survey": r.survey_id,
                "open": r.is_open,
                "closes_on": r.closes_on.isoformat() if r.closes_on else None,
                "eligible": eligible,
                "answered": answered,
                "response_rate": 100.0 * answered / eligible if eligible else None,
                "teachers": [
                    {
                        "teacher_id": p["teacher_id"],
                        "eligible": p["eligible"],
                        "answered": p["answered"],
                    }
                    for p in per_teacher
                ],
            }
        )
    return jsonify(result)
