"""The Word documents (第六条 业务审批表, 第九条 聘书, 第十九条 荣誉证书) from ``banzhuren documents``
and the dashboard, opened with python-docx: each names the person, the class and the dates, in
a Chinese font; on both backends."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from click.testing import CliRunner
from docx import Document
from docx.oxml.ns import qn

from bot.cli import main
from models import Appointment, AppointmentStatus, Award, UserRole
from tests.factories import make_appointment
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
    assert "赵老师" in letter and "管弦2022级（G2022）" in letter
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
    assert "管弦2022级（G2022）" in cert and "2025年9月1日 至 2026年9月1日" in cert
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
    assert "赵老师" in text and "G2022" in text and "2025年9月1日" in text

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
    }
