"""Pages of issue 24: trends across terms (趋势), Student Affairs' comment review queue (意见审核),
and granting a 先进兼职班主任 award from the awards page. Thin: the rules live in
``core.trends``, ``core.comments`` and ``core.evaluation.awards``."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from bot.dashboard import exports, queries
from bot.dashboard.access import affairs_only, evaluation_condition, visible_teacher
from bot.dashboard.views import bp, scope, term_or_404
from bot.request_session import db, settings
from core.comments import review as comment_review
from core.evaluation.awards import AwardError, award_outlook, grant_award
from core.trends import trends_for
from models import Award, Teacher, TermEvaluation
from models.evaluation import GRADE_LABELS


def _department_filter() -> int | None:
    raw = request.args.get("department") or None
    if raw is None:
        return None
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        abort(400)
    return int(raw)


@bp.route("/trends")
def trends():
    """Satisfaction, grades and logs term by term: the school (Student Affairs), each branch,
    and a teacher × term matrix coloured by grade."""
    session = db()
    department = _department_filter()
    own = scope()
    if own is not None and department not in (None, own):
        abort(404)
    data = trends_for(session, own, settings().min_respondents, department_id=department)
    return render_template(
        "dashboard/trends.html",
        data=data,
        departments=queries.departments(session, own),
        department=department,
        term=None,
        grades=GRADE_LABELS,
        log_label=queries.log_label,
    )


# --- comment review (Student Affairs) -------------------------------------------------------


@bp.route("/comments")
@affairs_only
def comment_queue():
    term = term_or_404()
    session = db()
    items = comment_review.queue(session, term, settings().min_respondents) if term else []
    return render_template(
        "dashboard/comments.html",
        term=term,
        items=items,
        counts=comment_review.review_counts(session, term.id) if term else {},
        min_respondents=settings().min_respondents,
    )


def _back_to_queue(code: str | None):
    return redirect(url_for("dashboard.comment_queue", **({"term": code} if code else {})))


@bp.route("/comments/review", methods=["POST"])
@affairs_only
def comment_review_post():
    term = term_or_404()
    if term is None:
        abort(404)
    session = db()
    try:
        teacher = comment_review.review(
            session,
            term,
            request.form.get("answer", "")[:64],
            request.form.get("decision", ""),
            request.form.get("reason", "")[:2000],
            current_user.username,
            settings().min_respondents,
        )
        session.commit()
    except comment_review.ReviewError as exc:
        session.rollback()
        flash(str(exc), "error")
        return _back_to_queue(term.code)
    except IntegrityError:
        # Another reviewer decided the same comment a moment earlier.
        session.rollback()
        flash("这条意见刚被其他人审核过。", "error")
        return _back_to_queue(term.code)
    label = comment_review.DECISIONS[request.form["decision"]]
    flash(f"已{label}一条关于 {teacher.name} 的意见。", "ok")
    return _back_to_queue(term.code)


@bp.route("/comments/show-unheld", methods=["POST"])
@affairs_only
def comment_show_unheld():
    term = term_or_404()
    if term is None:
        abort(404)
    session = db()
    try:
        n = comment_review.show_unheld(
            session, term, current_user.username, settings().min_respondents
        )
        session.commit()
    except IntegrityError:
        session.rollback()
        flash("有意见刚被其他人审核过，请重试。", "error")
        return _back_to_queue(term.code)
    flash(f"已显示 {n} 条未被自动标记的意见。", "ok")
    return _back_to_queue(term.code)


# --- awards ---------------------------------------------------------------------------------


@bp.route("/awards")
def awards():
    """先进兼职班主任候选人, with who is one 优秀 term away and, when nobody qualifies, why."""
    term = term_or_404()
    session = db()
    rows = exports.report_rows(session, term, scope(), "award") if term else []
    headers, cells = exports.table(rows, "award")
    outlook = None
    names: dict[int, Teacher] = {}
    awarded = 0
    awards: dict[int, Award] = {}
    if term:
        # A branch: the teachers evaluated under its own department (as the candidates' rows);
        # a borrowed teacher's grades are not the branch's to see (README, Dashboard security).
        visible = set(
            session.scalars(
                select(TermEvaluation.teacher_id).where(
                    TermEvaluation.term_id == term.id, evaluation_condition(scope())
                )
            )
        )
        outlook = award_outlook(session, term, visible if scope() is not None else None)
        ids = {n.teacher_id for n in outlook.near} | set(outlook.barred)
        ids |= {c.teacher_id for c in outlook.candidates}
        if ids:
            names = {t.id: t for t in session.scalars(select(Teacher).where(Teacher.id.in_(ids)))}
        awards = {
            a.teacher_id: a
            for a in session.scalars(select(Award).where(Award.academic_year == term.code[:9]))
            if a.teacher_id in visible
        }
        awarded = sum(1 for a in awards.values() if a.status == "awarded")
    return render_template(
        "dashboard/awards.html",
        term=term,
        kind="award",
        title="先进兼职班主任候选人",
        note="第十九条：连续两个学期考核优秀；第二十条：被解聘者三年内不得参评。",
        headers=headers,
        cells=cells,
        keys=exports.KEY_HEADERS["award"],
        rows=rows,
        outlook=outlook,
        names=names,
        awards=awards,
        awarded=awarded,
        grades=GRADE_LABELS,
    )


@bp.route("/awards/grant", methods=["POST"])
@affairs_only
def award_grant():
    term = term_or_404()
    if term is None:
        abort(404)
    raw = request.form.get("teacher", "")
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 9):
        abort(400)
    session = db()
    teacher = visible_teacher(session, scope(), int(raw))
    try:
        grant_award(session, term, teacher.id, current_user.username)
        session.commit()
    except AwardError as exc:
        session.rollback()
        flash(str(exc), "error")
    else:
        flash(f"已授予 {teacher.name} {term.code[:9]} 学年先进兼职班主任，可下载荣誉证书。", "ok")
    return redirect(url_for("dashboard.awards", term=term.code))
