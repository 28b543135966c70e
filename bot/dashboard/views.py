"""Dashboard pages that read: login, term overview, teachers table, teacher page, awards,
allowances, downloads."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any
from urllib.parse import quote

from flask import (
    Blueprint,
    Response,
    abort,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask import session as flask_session
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError
from markupsafe import Markup, escape

from bot.dashboard import (
    access,
    client_address,
    exports,
    login_counter,
    queries,
    start_session,
)
from bot.dashboard.access import is_foreign, visible_teacher
from bot.dashboard.charts import hbar_chart
from bot.dashboard.forms import parse_id
from bot.dashboard.principal import Principal
from bot.request_session import db, settings
from core import audit
from core.accounts import authenticate, end_sessions
from core.evaluation.grading import details_shown, participation_short
from core.publication import readiness
from core.trends import report_sheets, trends_for
from core.worklog.feedback import undelivered_feedback
from models import Grade, Term, User
from models.base import utcnow
from models.evaluation import GRADE_LABELS
from models.meetings import meetings_attended

bp = Blueprint(
    "dashboard",
    __name__,
    url_prefix="/dashboard",
    template_folder="templates",
    static_folder="static",
)


@bp.before_request
def _require_login():
    """Login first, then the one route rule (bot.dashboard.access.ROUTES): a role outside it
    gets 403 before the view runs, for reads, writes and downloads alike."""
    if access.is_public(request.endpoint):
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("dashboard.login", next=request.full_path))
    if not access.permitted(current_user.role, request.endpoint, request.view_args):
        abort(403)
    return None


@bp.app_template_global()
def entry_text(entry) -> str:
    """A work-log entry's text as this user may read it (a 反馈's only for its class's branch)."""
    if access.feedback_text_visible(current_user.scope, entry):
        return entry.text
    return access.FEEDBACK_HIDDEN


@bp.app_template_global()
def home_url() -> str:
    return url_for(access.home_endpoint(current_user.role))


@bp.app_template_global()
def may(endpoint: str, **view_args: Any) -> bool:
    """Whether the current user may use a route: the navigation and links ask the same rule
    the requests are held to."""
    return current_user.is_authenticated and access.permitted(
        current_user.role, endpoint, view_args
    )


@bp.errorhandler(400)
def _bad_request(exc):
    if isinstance(exc, CSRFError):
        message = "表单已过期或缺少安全令牌，请刷新页面后重新提交。"
    else:
        message = "请求参数有误，请从页面上的链接或筛选框进入。"
    return render_template("dashboard/error.html", code=400, message=message), 400


@bp.errorhandler(403)
def _forbidden(_exc):
    return render_template("dashboard/error.html", code=403, message="无权访问此页面。"), 403


@bp.errorhandler(404)
def _not_found(_exc):
    return render_template(
        "dashboard/error.html", code=404, message="没有找到该页面，或它不在您的管辖范围内。"
    ), 404


def today() -> dt.date:
    return utcnow().astimezone(settings().tz).date()


def scope() -> int | None:
    return current_user.scope


@bp.app_template_filter("pct")
def _pct(value: float | None, decimals: int = 1) -> str:
    return "—" if value is None else f"{value:.{decimals}f}%"


@bp.app_template_global()
def school_name() -> str:
    """BANZHUREN_SCHOOL_NAME, shown in the page titles and on the login page."""
    return settings().school_name


_DATES = re.compile(r"\d{4}-\d{2}(?:-\d{2})?")


@bp.app_template_filter("dates_nowrap")
def _dates_nowrap(value: Any) -> Markup:
    """The cell's text, escaped, with each date or month (``2026-09``) kept whole on a line: a
    narrow column would otherwise break it at its hyphens."""
    text = str(escape("" if value is None else value))
    return Markup(_DATES.sub(lambda m: f'<span class="date">{m.group(0)}</span>', text))


@bp.app_template_filter("local")
def _local(value: dt.datetime | None) -> str:
    return "" if value is None else value.astimezone(settings().tz).strftime("%Y-%m-%d %H:%M")


def term_or_404() -> Term | None:
    """The term in ``?term=`` (404 if unknown), else the current one (None if no term yet);
    also puts the term list in ``g`` for the picker."""
    session = db()
    g.terms = queries.all_terms(session)
    code = request.args.get("term")
    term = queries.pick_term(session, code, today())
    if code and term is None:
        abort(404)
    g.term = term
    return term


# --- login ------------------------------------------------------------------------------


def _safe_next(target: str | None) -> str:
    if target and target.startswith("/dashboard") and not target.startswith("//"):
        return target
    return home_url()


@bp.route("/login", methods=["GET", "POST"])
def login():
    if current_user.is_authenticated:
        return redirect(home_url())
    error = None
    username = ""
    status = 200
    if request.method == "POST":
        username = request.form.get("username", "").strip()
        password = request.form.get("password", "")
        session = db()
        address = client_address()
        counter = login_counter()
        if not username or not password:
            error, status = "请输入用户名和密码", 401
        elif counter.address_blocked(address):
            error, status = "本机登录失败次数过多，请 15 分钟后再试", 429
            audit.record(session, username[:64], "login.throttled", username, address=address)
            session.commit()
        else:
            result = authenticate(session, username, password, address, counter)
            if result.user is None:
                action = "login.locked" if result.locked_now else "login.failed"
                audit.record(session, username[:64], action, username, address=address)
                session.commit()
                error, status = result.message, 401
            else:
                audit.record(
                    session, result.user.username, "login", result.user.username, address=address
                )
                principal = Principal(result.user)
                session.commit()
                # A fresh cookie: nothing from before the login is carried into it.
                flask_session.clear()
                login_user(principal)
                start_session(principal)
                return redirect(_safe_next(request.args.get("next")))
    return render_template("dashboard/login.html", error=error, username=username), status


@bp.route("/logout", methods=["POST"])
def logout():
    # Ends every session of this user, so a copied cookie is worthless from now on.
    session = db()
    user = session.get(User, current_user.id)
    if user is not None:
        end_sessions(session, user)
        audit.record(session, user.username, "logout", user.username, address=client_address())
        session.commit()
    logout_user()
    flask_session.clear()
    flash("已退出登录", "info")
    return redirect(url_for("dashboard.login"))


# --- overview -----------------------------------------------------------------------------


def overview_charts(overview: queries.Overview) -> dict[str, Any]:
    return {
        "grades": hbar_chart(
            [(GRADE_LABELS[gr], float(n)) for gr, n in overview.grades.items()],
            title="考核等级分布（人）",
            decimals=0,
            label_width=80,
        ),
        "satisfaction": hbar_chart(
            [(d.name or "（未分配）", d.satisfaction) for d in overview.by_department],
            max_value=100,
            unit="%",
            title="各党总支平均满意度",
            threshold=60,
            threshold_label="60% 合格线",
        ),
        "response": hbar_chart(
            [(d.name or "（未分配）", d.response_rate) for d in overview.by_department],
            max_value=100,
            unit="%",
            title="各党总支参评率",
        ),
    }


@bp.route("/")
def overview():
    term = term_or_404()
    rows = queries.visible_evaluations(db(), term.id, scope()) if term else []
    summary = queries.summarize(rows)
    return render_template(
        "dashboard/overview.html",
        term=term,
        readiness=readiness(db(), term) if term else None,
        pending=Grade.PENDING,
        summary=summary,
        charts=overview_charts(summary) if rows else None,
        fails=[r for r in rows if r.grade == Grade.FAIL][:50],
        doctor=_doctor_problems(),
    )


def _doctor_problems() -> list[str]:
    """Student Affairs sees what ``banzhuren doctor`` would mark ✗ (its cheap checks)."""
    if not current_user.is_affairs:
        return []
    from bot.request_session import settings
    from core.doctor.checks import failing_cheap_checks

    return [check.line for check in failing_cheap_checks(settings())]


# --- teachers -------------------------------------------------------------------------------


def _grade_arg() -> Grade | None:
    raw = request.args.get("grade") or None
    if raw is None:
        return None
    try:
        return Grade(raw)
    except ValueError:
        abort(400)


def _department_arg() -> int | None:
    raw = request.args.get("department") or None
    if raw is None:
        return None
    value = parse_id(raw)
    if value is None:
        abort(400)
    return value


@bp.route("/teachers")
def teachers():
    term = term_or_404()
    sort = request.args.get("sort", "department")
    descending = request.args.get("dir") == "desc"
    rows = []
    if term:
        rows = queries.visible_evaluations(
            db(),
            term.id,
            scope(),
            department_id=_department_arg(),
            grade=_grade_arg(),
            search=request.args.get("q") or None,
        )
        rows = queries.sort_rows(rows, sort, descending)
    return render_template(
        "dashboard/teachers.html",
        term=term,
        rows=rows,
        departments=queries.departments(db(), scope()),
        grades=[(gr.value, GRADE_LABELS[gr]) for gr in queries.GRADE_ORDER],
        sort=sort,
        descending=descending,
    )


@bp.route("/teachers/<int:teacher_id>")
def teacher(teacher_id: int):
    session = db()
    person = visible_teacher(session, scope(), teacher_id)
    # Another department's teacher, seen through the branch's classes: only that work.
    foreign = is_foreign(scope(), person)
    term = term_or_404()
    context: dict[str, Any] = {"person": person, "term": term, "foreign": foreign}
    if term and foreign:
        entries, counts = queries.worklog(
            session, teacher_id, term, access.worklog_condition(scope())
        )
        context.update(
            evaluation=None,
            respondents=0,
            breakdown_shown=False,
            questions=[],
            comments=None,
            teacher_trend=None,
            timeline=queries.group_by_month(entries),
            log_counts=sorted(counts.items(), key=lambda kv: -kv[1]),
            log_total=sum(counts.values()),
            meetings=access.meetings_in_scope(session, scope(), teacher_id, term),
            incidents=access.incidents_in_scope(session, scope(), teacher_id, term.id),
        )
    elif term:
        respondents = queries.respondent_count(session, term.id, teacher_id)
        evaluation = queries.evaluation_of(session, term.id, teacher_id)
        config = settings()
        rate = evaluation.response_rate if evaluation is not None else None
        shown = details_shown(respondents, rate, config.min_respondents, config.min_participation)
        entries, counts = queries.worklog(session, teacher_id, term)
        context.update(
            evaluation=evaluation,
            participation_short=participation_short(rate, config.min_participation),
            respondents=respondents,
            breakdown_shown=shown,
            questions=queries.question_stats(session, term.id, teacher_id) if shown else [],
            comments=queries.comments(session, term.id, teacher_id) if shown else None,
            teacher_trend=trends_for(
                session, scope(), settings().min_respondents, teacher_id=teacher_id
            ),
            timeline=queries.group_by_month(entries),
            undelivered=undelivered_feedback(session, [e.id for e in entries]),
            log_counts=sorted(counts.items(), key=lambda kv: -kv[1]),
            log_total=sum(counts.values()),
            meetings=meetings_attended(session, teacher_id, term),
            incidents=queries.incidents(session, teacher_id, term.id),
        )
    context.setdefault("undelivered", {})
    context.update(
        appointments=access.appointments_in_scope(session, scope(), teacher_id)
        if foreign
        else queries.appointments_of(session, teacher_id),
        min_respondents=settings().min_respondents,
        min_participation=settings().min_participation,
        grades=[(gr.value, GRADE_LABELS[gr]) for gr in queries.SHOWN_GRADES],
        log_label=queries.log_label,
        reason_text=queries.reason_text,
        flag_text=queries.flag_text,
        today=today(),
    )
    return render_template("dashboard/teacher.html", **context)


# --- awards, allowances, downloads --------------------------------------------------------


def _report_page(kind: str, title: str, note: str):
    term = term_or_404()
    rows = exports.report_rows(db(), term, scope(), kind) if term else []
    headers, cells = exports.table(rows, kind)
    return render_template(
        "dashboard/report.html",
        term=term,
        kind=kind,
        title=title,
        note=note,
        headers=headers,
        cells=cells,
        keys=exports.KEY_HEADERS[kind],
    )


@bp.route("/allowances")
def allowances():
    return _report_page("allowance", "补贴发放表", "第十八条：每人每月 300 元，按在任月数计发。")


@bp.route("/download/<kind>.<fmt>")
def download(kind: str, fmt: str):
    if kind not in exports.KINDS or fmt not in exports.FORMATS:
        abort(404)
    term = term_or_404()
    if term is None:
        abort(404)
    session = db()
    rows = exports.report_rows(session, term, scope(), kind)
    extra = (
        report_sheets(session, term, scope(), settings().min_respondents)
        if fmt == "xlsx" and kind == "evaluation"
        else None
    )
    body = exports.render(rows, fmt, kind, extra)
    name = exports.filename(term, kind, fmt, current_user.department_name)
    response = Response(body, mimetype=exports.FORMATS[fmt])
    # RFC 5987 name for the Chinese file name, an ASCII one for old clients.
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{term.code}-{kind}.{fmt}\"; filename*=UTF-8''{quote(name)}"
    )
    return response
