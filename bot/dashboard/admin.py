"""Dashboard pages that change things: roster upload, the appointment workflow, survey rounds,
meetings, incidents and other failing reasons, grade overrides, and the audit log that records
each of them (in the same transaction as the change)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from flask import abort, flash, redirect, render_template, request, url_for
from flask_login import current_user
from sqlalchemy import select, true
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import joinedload, selectinload

from bot.dashboard import audit_text, queries
from bot.dashboard.access import (
    affairs_only,
    application_condition,
    appointment_condition,
    may_record_incident,
    meeting_condition,
    teacher_condition,
    visible_appointment,
    visible_attendees,
    visible_teacher,
)
from bot.dashboard.forms import Fields, FormError, parse_id
from bot.dashboard.views import bp, scope, term_or_404, today
from bot.dashboard.workflow import needs_end_details, next_steps, transition_problem
from bot.request_session import db
from core import applications, audit
from core.db import begin_write
from core.reach import rounds as reach_rounds
from core.roster.importer import RosterError, import_roster
from core.surveys import rounds as survey_rounds
from models import (
    Appointment,
    AppointmentStatus,
    AuditLog,
    Department,
    Grade,
    Incident,
    IncidentKind,
    Meeting,
    MeetingKind,
    SchoolClass,
    Survey,
    SurveyRound,
    Teacher,
    Term,
    TermEvaluation,
    User,
    UserRole,
)
from models.appointment import ENDED_EARLY, STATUS_LABELS, TRANSITIONS, one_year_after
from models.base import utcnow
from models.evaluation import GRADE_LABELS
from models.term import find_term

# 待测评 is not a grade Student Affairs can give: it says there is none yet.
OVERRIDE_GRADES = (Grade.EXCELLENT, Grade.GOOD, Grade.PASS, Grade.FAIL)


def actor() -> str:
    return current_user.username


def _term_from_form(fields: Fields) -> Term | None:
    code = fields.text("term", "学期")
    term = find_term(db(), code) if code else None
    if code and term is None:
        fields.problems.append(f"没有学期 {code}")
    return term


# --- roster -------------------------------------------------------------------------------

ROSTER_SHEETS = {"departments", "classes", "students", "teachers", "appointments"}


def _upload_name(filename: str) -> str:
    """The uploaded file's own name without any folder part (the importer reads CSV sheets by
    file name, Chinese names included); only ever used inside a fresh temporary folder."""
    name = Path(filename.replace("\\", "/")).name.strip()
    if not name or name.startswith("."):
        return "upload" + Path(filename).suffix.lower()
    return name


@bp.route("/roster", methods=["GET", "POST"])
@affairs_only
def roster():
    errors: list[str] = []
    status = 200
    if request.method == "POST":
        files = [f for f in request.files.getlist("files") if f and f.filename]
        names = [_upload_name(f.filename) for f in files]
        if not files:
            errors = [
                "请选择名册文件：一个 .xlsx 工作簿，或多个 .csv 文件（党总支.csv、班级.csv 等）"
            ]
        elif len(files) == 1 and names[0].lower().endswith(".xlsx"):
            pass
        elif not all(n.lower().endswith(".csv") for n in names):
            errors = ["只接受一个 .xlsx 工作簿，或若干 .csv 文件"]
        if errors:
            status = 400
        else:
            with tempfile.TemporaryDirectory(prefix="banzhuren-roster-") as tmp:
                folder = Path(tmp)
                for f, name in zip(files, names, strict=True):
                    f.save(folder / name)
                source = folder / names[0] if names[0].lower().endswith(".xlsx") else folder
                session = db()
                try:
                    # The importer writes its own audit row, with this user as the actor.
                    summary = import_roster(session, source, actor=actor(), today=today())
                except RosterError as exc:
                    session.rollback()
                    errors = [str(exc), *exc.errors]
                    status = 422
                else:
                    session.commit()
                    flash("名册已导入：" + "；".join(summary.lines()), "ok")
                    return redirect(url_for("dashboard.roster"))
    return render_template("dashboard/roster.html", errors=errors), status


# --- appointments -------------------------------------------------------------------------


def _appointments_page(errors: list[str] | None = None, form: dict | None = None, status=200):
    session = db()
    query = (
        select(Appointment)
        # One query for the rows' teachers, classes and departments, not three per row.
        .options(
            joinedload(Appointment.teacher),
            joinedload(Appointment.school_class).joinedload(SchoolClass.department),
        )
        .join(SchoolClass, SchoolClass.id == Appointment.class_id)
        .join(Teacher, Teacher.id == Appointment.teacher_id)
        .where(appointment_condition(scope()))
        .order_by(Appointment.created_at.desc(), Appointment.id.desc())
    )
    wanted = request.args.get("status")
    if wanted:
        try:
            query = query.where(Appointment.status == AppointmentStatus(wanted))
        except ValueError:
            abort(400)
    rows = list(session.scalars(query.limit(500)))
    hr = hr_present(session)
    classes = list(
        session.scalars(
            select(SchoolClass)
            .where(SchoolClass.department_id == scope() if scope() is not None else true())
            .order_by(SchoolClass.code)
        )
    )
    return (
        render_template(
            "dashboard/appointments.html",
            rows=rows,
            classes=classes,
            steps={a.id: next_steps(current_user.role, a.status, hr_present=hr) for a in rows},
            statuses=[(s.value, STATUS_LABELS[s]) for s in AppointmentStatus],
            wanted=wanted,
            needs_end_details=needs_end_details,
            end_targets=ENDED_EARLY,
            errors=errors or [],
            form=form or {},
        ),
        status,
    )


def hr_present(session) -> bool:
    """Whether the school has an active 人事处 user (who then files its own 人事处备案)."""
    return (
        session.scalar(
            select(User.id).where(User.role == UserRole.HR, User.disabled_at.is_(None)).limit(1)
        )
        is not None
    )


@bp.route("/appointments")
def appointments():
    return _appointments_page()


@bp.route("/appointments/new", methods=["POST"])
def appointment_new():
    session = db()
    fields = Fields(request.form)
    staff_no = fields.text("staff_no", "工号", max_len=32)
    class_code = fields.text("class_code", "班级代码", max_len=50)
    start = fields.date("start_date", "聘任开始日期")
    end = fields.date("end_date", "聘任结束日期", required=False)
    note = fields.text("note", "申请说明", required=False, max_len=500)
    teacher = session.scalar(
        select(Teacher).where(Teacher.staff_no == staff_no, application_condition(scope()))
    )
    forbidden = False
    if staff_no and teacher is None:
        exists = session.scalar(select(Teacher.id).where(Teacher.staff_no == staff_no))
        if exists is None:
            fields.problems.append(f"没有工号为 {staff_no} 的教师")
        else:
            # An application must not widen the branch's own scope.
            forbidden = True
            fields.problems.append(f"党总支只能为本党总支的教师登记聘任申请（{staff_no} 不是）")
    school_class = session.scalar(select(SchoolClass).where(SchoolClass.code == class_code))
    if class_code and (
        school_class is None or (scope() is not None and school_class.department_id != scope())
    ):
        fields.problems.append(f"没有班级 {class_code}，或它不属于本党总支")
    if start and end and end <= start:
        fields.problems.append("聘任结束日期应晚于开始日期")
    try:
        fields.check()
    except FormError as exc:
        return _appointments_page(exc.problems, dict(request.form), 403 if forbidden else 400)
    appointment = Appointment(
        teacher_id=teacher.id,
        class_id=school_class.id,
        start_date=start,
        end_date=end or one_year_after(start),
        trained=request.form.get("trained") == "1",
        status=AppointmentStatus.APPLIED,
        application_note=note or None,
    )
    session.add(appointment)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        return _appointments_page(
            [f"{teacher.name} 在 {start} 开始的 {class_code} 聘任已登记过"], dict(request.form), 409
        )
    audit.record(
        session,
        actor(),
        "appointment.apply",
        f"{staff_no} {class_code}",
        appointment_id=appointment.id,
        start=start,
        end=appointment.end_date,
    )
    session.commit()
    flash(f"已登记 {teacher.name} 担任 {school_class.name} 兼职班主任的申请", "ok")
    return redirect(url_for("dashboard.appointments"))


@bp.route("/appointments/<int:appointment_id>/step", methods=["POST"])
def appointment_step(appointment_id: int):
    session = db()
    # It queues the teacher's message (issue 25.2) while the in-process sender may be writing
    # the last one: on SQLite take the write lock first, as the round actions do.
    session.rollback()
    begin_write(session)
    appointment = visible_appointment(session, scope(), appointment_id, for_update=True)
    fields = Fields(request.form)
    target = fields.choice("target", "流程步骤", AppointmentStatus)
    ended_on = reason = None
    if target is not None and needs_end_details(target):
        ended_on = fields.date("ended_on", "解聘/辞职日期")
        reason = fields.text("reason", "解聘/辞职原因")
        if ended_on and ended_on < appointment.start_date:
            fields.problems.append("解聘/辞职日期不能早于聘任开始日期")
    try:
        fields.check()
    except FormError as exc:
        return _appointments_page(exc.problems, status=400)
    problem = transition_problem(
        current_user.role, appointment.status, target, hr_present=hr_present(session)
    )
    if problem:
        # A step out of order is bad input; a step of the other office is forbidden.
        allowed_order = target in TRANSITIONS[appointment.status]
        return _appointments_page([problem], status=403 if allowed_order else 409)
    before = appointment.status
    appointment.status = target
    if ended_on:
        appointment.ended_on = ended_on
        appointment.end_reason = reason
    audit.record(
        session,
        actor(),
        "appointment.transition",
        f"{appointment.teacher.staff_no} {appointment.school_class.code}",
        appointment_id=appointment.id,
        before=before.value,
        after=target.value,
        ended_on=ended_on,
        reason=reason,
    )
    # Issue 25.2: the teacher hears of each step by WeChat (sent once this commits).
    applications.notify_step(session, appointment, before, target)
    session.commit()
    flash(
        f"{appointment.teacher.name}（{appointment.school_class.name}）：{STATUS_LABELS[before]} → "
        f"{STATUS_LABELS[target]}",
        "ok",
    )
    return redirect(url_for("dashboard.appointments"))


# --- survey rounds ----------------------------------------------------------------------------


def _rounds_page(errors: list[str] | None = None, status: int = 200):
    session = db()
    term = term_or_404()
    rounds = []
    if term:
        visible = set(session.scalars(select(Teacher.id).where(teacher_condition(scope()))))
        for r in session.scalars(
            select(SurveyRound).where(SurveyRound.term_id == term.id).order_by(SurveyRound.id)
        ):
            per_teacher = [
                p
                for p in survey_rounds.round_progress(session, r.id, scope())
                if p["teacher_id"] in visible
            ]
            eligible = sum(p["eligible"] for p in per_teacher)
            answered = sum(p["answered"] for p in per_teacher)
            rounds.append(
                {
                    "reach": reach_rounds.round_reach(session, r.id, scope()),
                    "unbound": reach_rounds.unbound_by_class(
                        session, r, None if scope() is None else [scope()]
                    ),
                    "round": r,
                    "title": r.definition.get("title", r.survey_id),
                    "teachers": sorted(per_teacher, key=lambda p: p.get("rate") or 0),
                    "eligible": eligible,
                    "answered": answered,
                    "rate": 100.0 * answered / eligible if eligible else None,
                }
            )
    surveys = list(session.scalars(select(Survey).order_by(Survey.id)))
    classes = list(
        session.scalars(
            select(SchoolClass)
            .where(true() if scope() is None else SchoolClass.department_id == scope())
            .order_by(SchoolClass.code)
        )
    )
    return (
        render_template(
            "dashboard/rounds.html",
            term=term,
            rounds=rounds,
            surveys=surveys,
            classes=classes,
            errors=errors or [],
        ),
        status,
    )


@bp.route("/rounds")
def rounds():
    return _rounds_page()


def _request_settings():
    from bot.request_session import settings

    return settings()


def _round_action(opening: bool):
    session = db()
    fields = Fields(request.form)
    term = _term_from_form(fields)
    survey_id = fields.text("survey", "问卷", max_len=64)
    closes_on = fields.date("closes_on", "截止日期", required=False) if opening else None
    survey = session.get(Survey, survey_id) if survey_id else None
    if survey_id and survey is None:
        fields.problems.append(f"没有问卷 {survey_id}")
    if term and closes_on and not (term.start_date <= closes_on <= term.end_date):
        fields.problems.append(f"截止日期应在学期 {term.start_date} 至 {term.end_date} 之内")
    try:
        fields.check()
        # core.surveys.rounds writes the audit row (round.open / reopen / extend / close).
        if opening:
            survey_rounds.open_round(
                session, term.code, survey_id, closes_on, actor=actor(), today=today()
            )
        else:
            survey_rounds.close_round(
                session, term.code, survey_id, actor=actor(), settings=_request_settings()
            )
    except FormError as exc:
        session.rollback()
        return _rounds_page(exc.problems, 400)
    except (ValueError, LookupError) as exc:
        # core.surveys.rounds refuses e.g. a round already open or closed, with a message.
        session.rollback()
        return _rounds_page([str(exc)], 409)
    session.commit()
    if not opening:
        survey_rounds.after_close(session)
    title = survey.title if survey is not None else survey_id
    flash(f"{'已开启' if opening else '已关闭'} {term.code} 学期的测评「{title}」", "ok")
    return redirect(url_for("dashboard.rounds", term=term.code))


@bp.route("/rounds/open", methods=["POST"])
@affairs_only
def round_open():
    return _round_action(True)


@bp.route("/rounds/close", methods=["POST"])
@affairs_only
def round_close():
    return _round_action(False)


@bp.route("/rounds/remind", methods=["POST"])
def round_remind():
    """一键催填 (issue 15): remind the round's students with a head teacher still unrated, in
    the user's scope (a branch: its own department, or one of its classes)."""
    session = db()
    # It writes (outbox rows, contacts, the audit row) while the in-process sender may be
    # writing too: on SQLite a read transaction (the login check's) cannot become a write one
    # then, so end it and take the write lock first (a no-op wait on PostgreSQL).
    session.rollback()
    begin_write(session)
    fields = Fields(request.form)
    term = _term_from_form(fields)
    survey_id = fields.text("survey", "问卷", max_len=64)
    class_code = (request.form.get("class") or "").strip()
    rnd = None
    if term and survey_id:
        rnd = session.scalar(
            select(SurveyRound).where(
                SurveyRound.term_id == term.id, SurveyRound.survey_id == survey_id
            )
        )
        if rnd is None:
            fields.problems.append(f"学期 {term.code} 没有问卷 {survey_id} 的测评")
    class_id = None
    if class_code:
        # A class outside the user's department is "not found", as any other out-of-scope row.
        cls = session.scalar(
            select(SchoolClass).where(
                SchoolClass.code == class_code,
                true() if scope() is None else SchoolClass.department_id == scope(),
            )
        )
        if cls is None:
            fields.problems.append(f"没有班级 {class_code}")
        else:
            class_id = cls.id
    try:
        fields.check()
        result = reach_rounds.remind(
            session, _request_settings(), rnd, department_id=scope(), class_id=class_id
        )
    except FormError as exc:
        session.rollback()
        return _rounds_page(exc.problems, 400)
    except reach_rounds.ReachError as exc:
        session.rollback()
        return _rounds_page([str(exc)], 409)
    audit_target = f"{term.code}/{survey_id}" + (f"/{class_code}" if class_code else "")
    session.add(
        AuditLog(
            actor=actor(),
            action="round.remind",
            target=audit_target,
            detail={
                "reminded": result.reminded,
                "department": scope(),
                "survey": rnd.definition.get("title", survey_id) if rnd is not None else None,
            },
        )
    )
    session.commit()
    if result.closed_reason is not None:
        flash("今天是学期设定的节假日或考试日，不发送催填提醒", "error")
    else:
        later = "（夜间，将于早上 8 点发出）" if result.deferred_to else ""
        flash(
            f"已催填 {result.reminded} 人{later}；今天已提醒过 {result.already_today} 人；"
            f"未绑定微信 {result.unbound} 人",
            "ok",
        )
    return redirect(url_for("dashboard.rounds", term=term.code))


@bp.route("/classes/<code>/poster.png")
def class_poster(code: str):
    """The class's QR poster (issue 15.4); a class outside a branch's department is 404."""
    from flask import Response
    from wechatpy.exceptions import WeChatClientException

    from core.fonts import NoCJKFont
    from core.reach.poster import class_poster as make_poster

    settings = _request_settings()
    if not (settings.wechat_appid and settings.wechat_secret):
        abort(503, "未配置 BANZHUREN_WECHAT_APPID / BANZHUREN_WECHAT_SECRET，无法生成二维码")
    try:
        made = make_poster(db(), settings, code, scope())
    except NoCJKFont as exc:
        abort(503, str(exc))
    except WeChatClientException as exc:
        abort(502, f"微信拒绝生成二维码：errcode {exc.errcode}")
    if made is None:
        abort(404)
    png, _cls = made
    return Response(
        png,
        mimetype="image/png",
        headers={"Content-Disposition": f'attachment; filename="poster-{code}.png"'},
    )


@bp.app_context_processor
def _staff_meeting_notice() -> dict:
    """Issue 15.5: a branch user sees the 第十四条 reminder on every page from the 20th."""
    if not current_user.is_authenticated or scope() is None:
        return {}
    from core.reach.meetings import staff_meeting_notice

    return {"staff_meeting_notice": staff_meeting_notice(db(), scope(), today())}


# --- meetings --------------------------------------------------------------------------------


def _meetings_page(errors: list[str] | None = None, form: dict | None = None, status=200):
    session = db()
    term = term_or_404()
    query = (
        select(Meeting)
        .options(selectinload(Meeting.attendees))
        .where(meeting_condition(scope()))
        .order_by(Meeting.held_on.desc())
    )
    if term:
        query = query.where(Meeting.held_on >= term.start_date, Meeting.held_on <= term.end_date)
    return (
        render_template(
            "dashboard/meetings.html",
            term=term,
            meetings=list(session.scalars(query.limit(300))),
            teachers=queries.head_teachers(session, scope()),
            departments=queries.departments(session, scope()),
            departments_by_id=queries.teacher_departments(session),
            kinds=[(k.value, k.label) for k in MeetingKind],
            attendees_of=lambda m: visible_attendees(scope(), m),
            errors=errors or [],
            form=form or {},
        ),
        status,
    )


@bp.route("/meetings", methods=["GET", "POST"])
def meetings():
    if request.method == "GET":
        return _meetings_page()
    session = db()
    fields = Fields(request.form)
    kind = fields.choice("kind", "会议类型", MeetingKind)
    held_on = fields.date("held_on", "会议日期")
    title = fields.text("title", "会议名称", max_len=200)
    department_id: int | None
    if scope() is not None:
        department_id = scope()
    else:
        raw = request.form.get("department", "").strip()
        department_id = parse_id(raw)
        if raw and (department_id is None or session.get(Department, department_id) is None):
            fields.problems.append("没有这个党总支")
    raw_ids = request.form.getlist("attendees")
    ids = {parse_id(v) for v in raw_ids} - {None}
    if len(ids) != len({v.strip() for v in raw_ids}):
        fields.problems.append("参会人员有误，请在名单中勾选")
    teachers = list(
        session.scalars(
            select(Teacher)
            .where(Teacher.id.in_(ids), teacher_condition(scope()))
            .with_for_update(of=Teacher)
        )
    )
    if len(teachers) != len(ids):
        fields.problems.append("参会人员中有不属于本党总支的教师")
    try:
        fields.check()
    except FormError as exc:
        form = dict(request.form)
        form["attendees"] = ids
        return _meetings_page(exc.problems, form, 400)
    meeting = Meeting(department_id=department_id, kind=kind, held_on=held_on, title=title)
    meeting.attendees = teachers
    session.add(meeting)
    session.flush()
    audit.record(
        session,
        actor(),
        "meeting.add",
        f"{held_on} {title}",
        meeting_id=meeting.id,
        kind=kind.value,
        attendees=sorted(t.staff_no for t in teachers),
    )
    session.commit()
    flash(f"已记录 {held_on} {title}（{len(teachers)} 人参加）", "ok")
    return redirect(url_for("dashboard.meetings"))


# --- incidents and grade overrides on the teacher page -------------------------------------


def _back_to_teacher(teacher_id: int, term: Term | None):
    return redirect(
        url_for("dashboard.teacher", teacher_id=teacher_id, term=term.code if term else None)
    )


@bp.route("/teachers/<int:teacher_id>/incidents", methods=["POST"])
def incident_add(teacher_id: int):
    session = db()
    teacher = visible_teacher(session, scope(), teacher_id, for_update=True)
    fields = Fields(request.form)
    term = _term_from_form(fields)
    kind = fields.choice("kind", "情形类别", IncidentKind)
    occurred_on = fields.date("occurred_on", "发生日期")
    description = fields.text("description", "情况说明", max_len=2000)
    if term and occurred_on and not term.contains(occurred_on):
        fields.problems.append(f"发生日期应在学期 {term.start_date} 至 {term.end_date} 之内")
    try:
        fields.check()
    except FormError as exc:
        return _error_page(exc.problems)
    if not may_record_incident(session, scope(), teacher, occurred_on):
        return _error_page(
            [
                f"{teacher.name} 是其他党总支的教师：只能登记其在本党总支班级聘期内"
                f"（已聘任、{occurred_on} 在聘期之内）发生的情形"
            ],
            status=403,
        )
    incident = Incident(
        teacher_id=teacher.id,
        term_id=term.id,
        kind=kind,
        occurred_on=occurred_on,
        description=description,
        recorded_by=actor(),
    )
    session.add(incident)
    session.flush()
    audit.record(
        session,
        actor(),
        "incident.add",
        f"{teacher.staff_no} {term.code}",
        incident_id=incident.id,
        kind=kind.value,
        occurred_on=occurred_on,
        description=description,
    )
    session.commit()
    flash(f"已记录：{kind.label}。重新考核后计入该学期结果。", "ok")
    return _back_to_teacher(teacher.id, term)


@bp.route("/teachers/<int:teacher_id>/override", methods=["POST"])
@affairs_only
def grade_override(teacher_id: int):
    session = db()
    teacher = visible_teacher(session, scope(), teacher_id, for_update=True)
    fields = Fields(request.form)
    term = _term_from_form(fields)
    clearing = request.form.get("clear") == "1"
    grade = None if clearing else fields.choice("grade", "考核等级", Grade, OVERRIDE_GRADES)
    reason = fields.text("reason", "调整理由", max_len=2000) if not clearing else ""
    if reason and len(reason) < 4:
        fields.problems.append("调整理由请写清楚（至少 4 个字）")
    evaluation = (
        session.scalar(
            select(TermEvaluation).where(
                TermEvaluation.term_id == term.id, TermEvaluation.teacher_id == teacher.id
            )
        )
        if term
        else None
    )
    if term and evaluation is None:
        fields.problems.append(f"{teacher.name} 在 {term.code} 还没有考核结果，请先运行考核")
    try:
        fields.check()
    except FormError as exc:
        return _error_page(exc.problems)
    before = evaluation.grade
    evaluation.override_grade = grade
    evaluation.override_reason = reason or None
    evaluation.override_at = utcnow()
    audit.record(
        session,
        actor(),
        "grade.override_clear" if clearing else "grade.override",
        f"{teacher.staff_no} {term.code}",
        before=before.value,
        after=evaluation.grade.value,
        computed=evaluation.computed_grade.value,
        reason=reason,
    )
    session.commit()
    flash(
        f"{teacher.name} 的考核等级：{GRADE_LABELS[before]} → {GRADE_LABELS[evaluation.grade]}",
        "ok",
    )
    return _back_to_teacher(teacher.id, term)


# --- publishing the term's results -----------------------------------------------------------


@bp.route("/publish", methods=["POST"])
@affairs_only
def publish():
    """发布考核结果 / 撤回发布 (``unpublish=1``) for the term in the form."""
    from bot.request_session import settings
    from core.publication import PublishError, announce_now, set_published

    session = db()
    code = (request.form.get("term") or "").strip()
    publishing = request.form.get("unpublish") != "1"
    if not code:
        return _error_page(["请选择学期"])
    try:
        set_published(session, code, publish=publishing, actor=actor(), settings=settings())
    except PublishError as exc:
        session.rollback()
        return _error_page([str(exc)])
    session.commit()
    if not publishing:
        flash(f"已撤回 {code} 的考核结果发布：班主任不再能在微信里查看。", "ok")
    elif settings().embedded:
        # No beat in embedded mode: tell the teachers now (Reminder rows prevent repeats).
        told = announce_now(settings())
        flash(f"已发布 {code} 的考核结果，已通知 {told} 名绑定微信的班主任。", "ok")
    else:
        flash(f"已发布 {code} 的考核结果，一小时内将通知绑定微信的班主任。", "ok")
    return redirect(url_for("dashboard.overview", term=code))


def _error_page(problems: list[str], status: int = 400):
    return (
        render_template(
            "dashboard/error.html",
            code=status,
            message="提交的内容有误：",
            problems=problems,
            # Only ever a link back into this site.
            back=request.referrer
            if request.referrer and request.referrer.startswith(request.host_url)
            else None,
        ),
        status,
    )


# --- audit log ---------------------------------------------------------------------------------


@bp.route("/audit")
@affairs_only
def audit_log():
    query = select(AuditLog).order_by(AuditLog.at.desc(), AuditLog.id.desc())
    action = request.args.get("action") or None
    who = request.args.get("actor") or None
    if action:
        query = query.where(AuditLog.action == action)
    if who:
        query = query.where(AuditLog.actor == who)
    rows = list(db().scalars(query.limit(500)))
    return render_template(
        "dashboard/audit.html",
        rows=rows,
        labels=audit_text.ACTION_LABELS,
        action=action,
        who=who,
    )


# The user-management pages register on the same blueprint, before it is registered.
from bot.dashboard import accounts  # noqa: E402, F401
