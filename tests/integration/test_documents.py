"""The Word documents (第六条 业务审批表, 第九条 聘书, 第十九条 荣誉证书) from ``banzhuren documents``
and the dashboard, opened with python-docx: each names the person, the class and the dates, in
a Chinese font; on both backends."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from click.testing import CliRunner
from docx import Document
from docx.enum.table import WD_ROW_HEIGHT_RULE
from docx.oxml.ns import qn
from docx.shared import Cm

from bot.cli import main
from core.documents.records import Letterhead, application_spec, appointment_spec, award_spec
from models import Appointment, AppointmentStatus, Award, UserRole
from tests.factories import make_appointment, make_term
from tests.integration.policy_school import CODE, build_policy_school
from tests.support.celery_worker import settings_env
from tests.support.dashboard import login, make_user


@pytest.fixture
def school(session):
    s = build_policy_school(session)
    # 钱 applied for a second class (still with the branch), and a rejected application.
    make_appointment(
        session,
        teacher=s.teachers["qian"],
        school_class=s.classes["final"],
        start_date=dt.date(2025, 10, 1),
        status=AppointmentStatus.APPLIED,
        application_note="熟悉该班学生的专业情况",
    )
    make_appointment(
        session,
        teacher=s.teachers["sun"],
        school_class=s.classes["young"],
        start_date=dt.date(2025, 10, 1),
        status=AppointmentStatus.REJECTED,
    )
    session.add(
        Award(teacher_id=s.teachers["zhao"].id, academic_year="2025-2026", status="awarded")
    )
    session.add(Award(teacher_id=s.teachers["sun"].id, academic_year="2025-2026"))  # candidate
    session.commit()
    return s


@pytest.fixture
def cli(settings, monkeypatch):
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BANZHUREN_REDIS_URL", raising=False)
    return CliRunner()


def text_of(doc) -> str:
    parts = [p.text for p in doc.paragraphs]
    for table in doc.tables:
        for row in table.rows:
            parts.extend(cell.text for cell in row.cells)
    return "\n".join(parts)


def east_asian_fonts(doc) -> set[str]:
    fonts = set()
    for element in doc.element.iter(qn("w:rFonts")):
        if element.get(qn("w:eastAsia")):
            fonts.add(element.get(qn("w:eastAsia")))
    return fonts


def test_cli_writes_one_file_per_person(session, school, cli, tmp_path):
    out = tmp_path / "docs"
    result = cli.invoke(main, ["documents", "--term", CODE, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "业务审批表 4 份，聘书 3 份，荣誉证书 1 份" in result.output
    files = sorted(p.name for p in out.iterdir())
    assert "聘书-{}-赵老师-G2022.docx".format(school.teachers["zhao"].staff_no) in files
    assert not any(name.startswith("聘书") and "钱老师-G2022" in name for name in files)
    assert not any("孙老师-G2024" in name for name in files)  # rejected: no form, no letter

    def read(name: str) -> str:
        doc = Document(str(out / name))
        assert {"宋体"} <= east_asian_fonts(doc)
        return text_of(doc)

    zhao_no = school.teachers["zhao"].staff_no
    letter = read(f"聘书-{zhao_no}-赵老师-G2022.docx")
    assert "赵老师" in letter and "管弦2022级 兼职班主任" in letter and "G2022" not in letter
    assert "聘期自 2025年9月1日 至 2026年9月1日" in letter
    assert "{{" not in letter

    qian_no = school.teachers["qian"].staff_no
    form = read(f"业务审批表-{qian_no}-钱老师-G2022.docx")
    assert "兼职班主任业务审批表" in form and "钱老师" in form and qian_no in form
    assert "管弦2022级（G2022）" in form and "2025年10月1日 至 2026年10月1日" in form
    assert "熟悉该班学生的专业情况" in form and "申请" in form
    assert "已初审同意" not in form  # still with the branch
    assert "{{" not in form

    cert = read(f"荣誉证书-2025-2026-{zhao_no}-赵老师.docx")
    assert "荣誉证书" in cert and "赵老师" in cert and "管弦系党总支" in cert
    # The class by its name; the service in the academic year's terms (one term here).
    assert "管弦2022级" in cert and "G2022" not in cert
    assert "2025年9月1日 至 2026年1月20日" in cert
    assert "先进兼职班主任" in cert and "{{" not in cert


def test_cli_merged_files(session, school, cli, tmp_path):
    result = cli.invoke(main, ["documents", "--term", CODE, "-o", str(tmp_path), "--merged"])
    assert result.exit_code == 0, result.output
    letters = text_of(Document(str(tmp_path / f"聘书-{CODE}.docx")))
    assert all(name in letters for name in ("赵老师", "钱老师", "孙老师"))
    assert letters.count("聘　书") == 3


def test_cli_unknown_term(session, school, cli, tmp_path):
    result = cli.invoke(main, ["documents", "--term", "2030-2031-1", "-o", str(tmp_path)])
    assert result.exit_code != 0 and "没有学期 2030-2031-1" in result.output


def test_dashboard_downloads(session, school, app, client):
    make_user(session, "xsc", UserRole.AFFAIRS)
    make_user(session, "shengyue", UserRole.BRANCH, school.teachers["sun"].department)
    zhao = school.teachers["zhao"]
    appointment = session.query(Appointment).filter_by(teacher_id=zhao.id).one()
    applied = session.query(Appointment).filter_by(status=AppointmentStatus.APPLIED).one()
    award = session.query(Award).filter_by(status="awarded").one()
    login(client, "xsc")
    page = client.get(f"/dashboard/teachers/{zhao.id}?term={CODE}").get_data(as_text=True)
    assert f"/dashboard/documents/appointment/{appointment.id}.docx" in page
    assert f"/dashboard/documents/award/{award.id}.docx" in page

    response = client.get(f"/dashboard/documents/appointment/{appointment.id}.docx")
    assert response.status_code == 200
    assert response.mimetype.endswith("wordprocessingml.document")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    text = text_of(Document(io.BytesIO(response.data)))
    assert "赵老师" in text and "管弦2022级" in text and "2025年9月1日" in text

    response = client.get(f"/dashboard/documents/award/{award.id}.docx")
    assert "赵老师" in text_of(Document(io.BytesIO(response.data)))
    response = client.get(f"/dashboard/documents/application/{applied.id}.docx")
    assert "钱老师" in text_of(Document(io.BytesIO(response.data)))
    # No 聘书 for an application still in progress.
    assert client.get(f"/dashboard/documents/appointment/{applied.id}.docx").status_code == 404
    merged = client.get(f"/dashboard/documents/award.docx?term={CODE}")
    assert merged.status_code == 200 and "赵老师" in text_of(Document(io.BytesIO(merged.data)))

    branch = app.test_client()
    login(branch, "shengyue")  # 声乐系: 赵's appointment and award are not theirs
    assert branch.get(f"/dashboard/documents/appointment/{appointment.id}.docx").status_code == 404
    assert branch.get(f"/dashboard/documents/award/{award.id}.docx").status_code == 404


def test_templates_are_in_the_package():
    folder = Path(__file__).resolve().parents[2] / "core" / "documents" / "templates"
    assert {p.name for p in folder.glob("*.docx")} == {
        "application.docx",
        "appointment.docx",
        "award.docx",
        "logbook.docx",
        "service.docx",
    }


# --- issue 24: the school's name and clock, class names, room to sign and seal, the date ------

LETTERHEAD = Letterhead("星海音乐学院", ZoneInfo("Asia/Shanghai"))


def docx_of(spec) -> Document:
    return Document(io.BytesIO(spec.render()))


def test_school_name_follows_the_setting(session, school, cli, tmp_path, monkeypatch):
    monkeypatch.setenv("BANZHUREN_SCHOOL_NAME", "星海音乐学院")
    result = cli.invoke(main, ["documents", "--term", CODE, "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    for path in tmp_path.glob("*.docx"):
        text = text_of(Document(str(path)))
        assert "星海音乐学院" in text and "哈尔滨" not in text, path.name


def test_application_date_is_the_schools_day(session, school):
    a = session.query(Appointment).filter_by(status=AppointmentStatus.APPLIED).one()
    # 17:30 UTC on 7 December is already 8 December in Harbin.
    a.created_at = dt.datetime(2026, 12, 7, 17, 30, tzinfo=dt.UTC)
    session.flush()
    text = text_of(docx_of(application_spec(a, dt.date(2026, 12, 8), LETTERHEAD)))
    assert "填表日期：2026年12月8日" in text
    utc = Letterhead("星海音乐学院", ZoneInfo("UTC"))
    assert "填表日期：2026年12月7日" in text_of(
        docx_of(application_spec(a, dt.date(2026, 12, 8), utc))
    )


def test_boxes_have_room_to_sign_and_seal(session, school):
    a = session.query(Appointment).filter_by(status=AppointmentStatus.APPLIED).one()
    form = docx_of(application_spec(a, dt.date(2026, 12, 8), LETTERHEAD))
    heights = {}
    for row in form.tables[0].rows:
        label = row.cells[0].text
        if "意见" in label or "申请" in label or "备案" in label:
            assert row.height_rule == WD_ROW_HEIGHT_RULE.AT_LEAST, label
            heights[label] = row.height
    assert set(heights) == {"个人申请", "党总支初审意见", "学生处审核意见", "人事处备案"}
    assert min(heights.values()) >= Cm(3)
    assert all(heights[k] >= Cm(4) for k in ("党总支初审意见", "学生处审核意见", "人事处备案"))
    appointment = session.query(Appointment).filter_by(teacher_id=school.teachers["zhao"].id).one()
    award = session.query(Award).filter_by(status="awarded").one()
    for spec in (
        appointment_spec(appointment, LETTERHEAD),
        award_spec(session, award, school.teachers["zhao"], dt.date(2026, 12, 8), LETTERHEAD),
    ):
        doc = docx_of(spec)
        (school_line,) = [p for p in doc.paragraphs if p.text == "星海音乐学院"]
        assert school_line.paragraph_format.space_before >= Cm(3), spec.kind


def test_certificate_is_dated_when_the_cited_service_has_ended(session, school):
    # The academic year's second term, still to come when the certificate is made.
    make_term(
        session, code="2025-2026-2", start_date=dt.date(2026, 2, 20), end_date=dt.date(2026, 7, 10)
    )
    zhao = school.teachers["zhao"]
    award = session.query(Award).filter_by(status="awarded").one()

    early = text_of(docx_of(award_spec(session, award, zhao, dt.date(2026, 6, 1), LETTERHEAD)))
    # Service from the appointment's start to the last day of the year's last term, and the
    # certificate dated that day, not before it.
    assert "2025年9月1日 至 2026年7月10日" in early
    assert early.rstrip().endswith("2026年7月10日")
    late = text_of(docx_of(award_spec(session, award, zhao, dt.date(2026, 9, 3), LETTERHEAD)))
    assert late.rstrip().endswith("2026年9月3日")


def test_pages_carry_the_school_name(db_url, session):
    from bot import create_app
    from tests.conftest import make_settings

    client = create_app(make_settings(db_url, school_name="星海音乐学院")).test_client()
    login_page = client.get("/dashboard/login").get_data(as_text=True)
    assert "星海音乐学院<br>兼职班主任工作平台" in login_page
    assert "<title>登录 · 星海音乐学院兼职班主任工作平台</title>" in login_page
    assert "哈尔滨" not in login_page
