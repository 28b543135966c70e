"""The sample school: seeded, shaped as the demo expects, and committed in sync with its generator."""

from __future__ import annotations

from pathlib import Path

from core.roster.sample import generated_school, sample_school, write_csv_folder, write_xlsx

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "roster"


def test_sample_school_is_seeded_and_shaped_for_term_2026_2027_1():
    school = sample_school()
    assert school == sample_school()
    assert school != sample_school(seed=7)
    assert len(school["departments"]) == 2
    assert len(school["classes"]) == 6
    assert 140 <= len(school["students"]) <= 160
    roles = [t["role"] for t in school["teachers"]]
    assert (roles.count("班主任"), roles.count("辅导员")) == (8, 2)
    years = {c["entry_year"] for c in school["classes"]}
    assert {2026, 2023} <= years  # first-year and final-year classes in 2026-2027-1
    assert "小乐团" in {c["kind"] for c in school["classes"]}
    assert {a["start_date"] for a in school["appointments"]} == {"2026-09-01"}
    numbers = [s["student_no"] for s in school["students"]]
    assert len(set(numbers)) == len(numbers)
    names = [p["name"] for p in school["students"] + school["teachers"]]
    assert len(set(names)) == len(names)
    assert all(2 <= len(n) <= 3 for n in names)


def test_committed_examples_match_the_generator(tmp_path):
    school = sample_school()
    write_xlsx(school, tmp_path / "roster.xlsx")
    write_csv_folder(school, tmp_path / "csv")
    assert (tmp_path / "roster.xlsx").read_bytes() == (EXAMPLES / "roster.xlsx").read_bytes(), (
        "examples/roster is stale: run python examples/roster/make_sample.py"
    )
    for path in sorted((tmp_path / "csv").iterdir()):
        assert path.read_bytes() == (EXAMPLES / "csv" / path.name).read_bytes(), path.name


def test_generated_school_scales():
    school = generated_school(students=95, class_size=30)
    assert len(school["students"]) == 95
    assert len(school["classes"]) == 4
    assert len({s["student_no"] for s in school["students"]}) == 95
