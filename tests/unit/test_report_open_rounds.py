"""An open round in the terminal report: listed as 进行中 with its response rate, summed over
the teachers, and absent when every round is closed (pure rendering, no database)."""

from __future__ import annotations

from core.reports.render import open_round_rows, render


def _row(staff_no: str, open_rounds: list[dict]) -> dict:
    return {
        "staff_no": staff_no,
        "teacher": "王老师",
        "department": "管弦系",
        "classes": ["GX2601"],
        "respondents": 0,
        "eligible": 0,
        "response_rate": None,
        "satisfaction_pct": None,
        "ci_low": None,
        "ci_high": None,
        "grade": "合格",
        "reasons": [],
        "logs": {},
        "meetings_attended": 0,
        "flags": [],
        "open_rounds": open_rounds,
    }


def test_open_rounds_are_summed_per_survey() -> None:
    rows = [
        _row(
            "T1",
            [
                {
                    "status": "进行中",
                    "round_id": 7,
                    "survey": "满意度",
                    "answered": 3,
                    "eligible": 10,
                }
            ],
        ),
        _row(
            "T2",
            [
                {
                    "status": "进行中",
                    "round_id": 7,
                    "survey": "满意度",
                    "answered": 2,
                    "eligible": 10,
                }
            ],
        ),
        _row("T3", []),
    ]
    assert open_round_rows(rows) == [["满意度", 5, 20, "25.0%"]]


def test_the_table_shows_open_rounds_only_when_there_are_some() -> None:
    closed = render([_row("T1", [])], "table").decode()
    assert "进行中的测评" not in closed
    opened = render(
        [_row("T1", [{"survey": "满意度", "round_id": 7, "answered": 0, "eligible": 0}])], "table"
    ).decode()
    assert "进行中的测评" in opened and "满意度" in opened
