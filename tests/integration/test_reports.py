"""Report rows and their renderings (table, csv, xlsx, json) and the CLI commands
``banzhuren evaluate`` (embedded) and ``banzhuren report``, on both backends."""

from __future__ import annotations

import csv
import io
import json

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from bot.cli import main
from core.evaluation.run import evaluate_term
from core.reports import allowance_rows, award_rows, evaluation_rows, render
from core.reports.render import display_width
from tests.integration.evaluation_school import build_scenario
from tests.support.celery_worker import settings_env

CODE = "2026-2027-1"
DESIGN_KEYS = {
    "staff_no",
    "teacher",
    "department",
    "classes",
    "respondents",
    "eligible",
    "response_rate",
    "satisfaction_pct",
    "grade",
    "reasons",
    "logs",
    "flags",
}


@pytest.fixture
def evaluated(session, settings):
    build_scenario(session)
    evaluate_term(CODE, settings.min_respondents)
    session.rollback()
    return session


@pytest.fixture
def cli_env(settings, monkeypatch):
    """The CLI reads the same (embedded) settings from the environment."""
    for name, value in settings_env(settings).items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("BANZHUREN_REDIS_URL", raising=False)
    return CliRunner()


def test_json_rows_have_the_design_keys(evaluated):
    rows = json.loads(render(evaluation_rows(evaluated, CODE), "json"))
    assert len(rows) == 4
    for row in rows:
        assert set(row) >= DESIGN_KEYS
        assert {"ci_low", "ci_high", "allowance", "months_in_office"} <= set(row)
    by_name = {r["teacher"]: r for r in rows}
    assert by_name["王老师"]["satisfaction_pct"] is None
    assert by_name["张老师"]["grade"] == "优秀"


def test_department_filter(evaluated):
    rows = evaluation_rows(evaluated, CODE)
    dep = rows[0]["department_id"]
    only = evaluation_rows(evaluated, CODE, department_id=dep)
    assert only and {r["department_id"] for r in only} == {dep}
    assert len(only) < len(rows)


def test_csv_has_chinese_headers_and_a_bom(evaluated):
    data = render(evaluation_rows(evaluated, CODE), "csv")
    assert data.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert table[0][:4] == ["工号", "姓名", "党总支", "班级"]
    assert "考核等级" in table[0] and "不合格原因" in table[0]
    assert len(table) == 5
    grade_col = table[0].index("考核等级")
    assert sorted(r[grade_col] for r in table[1:]) == sorted(["优秀", "不合格", "不合格", "不合格"])


def test_xlsx_sheet_per_department_and_grade_summary(evaluated):
    data = render(evaluation_rows(evaluated, CODE), "xlsx")
    wb = load_workbook(io.BytesIO(data))
    assert wb.sheetnames == ["汇总", "声乐歌剧系党总支", "管弦系党总支", "党总支例会", "就业情况"]
    summary = [[c.value for c in r] for r in wb["汇总"].iter_rows()]
    assert summary[0] == ["党总支", "优秀", "良好", "合格", "不合格", "合计"]
    assert ["管弦系党总支", 1, 0, 0, 1, 2] in summary
    assert ["声乐歌剧系党总支", 0, 0, 0, 2, 2] in summary
    assert summary[-1] == ["全校", 1, 0, 0, 3, 4]
    ws = wb["管弦系党总支"]
    headers = [c.value for c in ws[1]]
    assert headers[:3] == ["工号", "姓名", "党总支"] and "工作补贴(元)" in headers
    names = [ws.cell(row=i, column=2).value for i in range(2, ws.max_row + 1)]
    assert sorted(names) == ["张老师", "李老师"]


def test_table_aligns_chinese_text(evaluated):
    text = render(evaluation_rows(evaluated, CODE), "table").decode()
    lines = text.rstrip("\n").split("\n")
    assert lines[0].startswith("工号")
    # Columns line up on screen: the grade column starts at the same display offset in
    # every row, although the rows mix Chinese and ASCII of different lengths.
    offsets = set()
    for line in lines[2:]:
        for grade in ("优秀", "不合格"):
            if grade in line:
                offsets.add(display_width(line[: line.index(grade)]))
    assert len(offsets) == 1


def test_display_width():
    assert display_width("abc") == 3
    assert display_width("张老师") == 6
    assert display_width("Ａ1") == 3  # fullwidth A


def test_allowance_and_award_kinds(evaluated):
    rows = allowance_rows(evaluated, CODE)
    by_name = {r["teacher"]: r for r in rows}
    assert by_name["王老师"]["months"] == ["2026-09", "2026-10", "2026-11"]
    assert by_name["王老师"]["allowance"] == 900
    wb = load_workbook(io.BytesIO(render(rows, "xlsx", kind="allowance")))
    assert [c.value for c in wb["汇总"][1]] == [
        "党总支",
        "人数",
        "任职月数合计",
        "工作补贴合计(元)",
    ]
    assert [c.value for c in wb["汇总"][wb["汇总"].max_row]] == ["全校", 4, 18, 5400]
    assert award_rows(evaluated, CODE) == []  # no previous semester evaluated
    assert "（无）" in render([], "table", kind="awards").decode()


def test_render_rejects_unknown_format_and_kind():
    with pytest.raises(ValueError, match="format"):
        render([], "pdf")
    with pytest.raises(ValueError, match="kind"):
        render([], "json", kind="salaries")


def test_cli_evaluate_embedded_then_report(session, cli_env, tmp_path):
    build_scenario(session)
    result = cli_env.invoke(main, ["evaluate", "--term", CODE])
    assert result.exit_code == 0, result.output
    assert "4 名兼职班主任" in result.output
    result = cli_env.invoke(main, ["report", "--term", CODE])
    assert result.exit_code == 0, result.output
    assert "张老师" in result.output and "工号" in result.output
    result = cli_env.invoke(main, ["report", "--term", CODE, "--format", "json"])
    assert len(json.loads(result.output)) == 4
    out = tmp_path / "考核.xlsx"
    result = cli_env.invoke(main, ["report", "--term", CODE, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert load_workbook(out).sheetnames[0] == "汇总"
    out = tmp_path / "补贴.csv"
    result = cli_env.invoke(main, ["report", "--term", CODE, "--kind", "allowance", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8-sig").splitlines()[0].startswith("工号,姓名")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--term", "2030-2031-1"], "没有学期 2030-2031-1"),
        (["report", "--term", "2030-2031-1"], "没有学期 2030-2031-1"),
        (["report", "--term", CODE], "尚未考核"),
        (["report", "--term", CODE, "--format", "xlsx"], "需要用 -o"),
        (["report", "--term", CODE, "--format", "pdf"], "pdf"),
    ],
)
def test_cli_errors_are_one_line(session, cli_env, args, message):
    build_scenario(session)
    result = cli_env.invoke(main, args)
    assert result.exit_code != 0
    errors = [line for line in result.output.splitlines() if line.startswith("错误：")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.output
