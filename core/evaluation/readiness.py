"""Whether a term's stored evaluation may be published (issue 22), as a pure rule on plain
values: no database, no clock. ``core.publication`` gathers the facts and applies it; the
command line, the dashboard and any other way to publish go through there.

Publishing is refused while a satisfaction round of the term is still open (its answers do not
count yet, so the grades would change at close), and when something the evaluation counts has
changed since it was computed (a round closed, a grade override, a work-log entry written or
undone, an incident, a meeting): the teachers would be told a result the data no longer gives.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# What changed, by kind, in the words Student Affairs reads.
CHANGE_LABELS = {
    "round_closed": "测评轮次结束",
    "override": "考核等级调整",
    "worklog": "工作日志",
    "worklog_undone": "工作日志撤销",
    "incident": "责任事件记录",
    "meeting": "会议记录",
}


@dataclass(frozen=True)
class OpenRound:
    survey: str  # the survey's title
    closes_on: dt.date | None

    def describe(self) -> str:
        if self.closes_on is None:
            return f"「{self.survey}」"
        return f"「{self.survey}」（截止 {self.closes_on.isoformat()}）"


@dataclass(frozen=True)
class Readiness:
    """The answer for one term: ``allowed`` or the reasons (Chinese, one line each)."""

    term_code: str
    evaluated_at: dt.datetime | None
    open_rounds: tuple[OpenRound, ...]
    # kind → the latest change of that kind after the evaluation
    stale: tuple[tuple[str, dt.datetime], ...]

    @property
    def allowed(self) -> bool:
        return self.evaluated_at is not None and not self.open_rounds and not self.stale

    @property
    def evaluated(self) -> bool:
        return self.evaluated_at is not None

    @property
    def problems(self) -> list[str]:
        code = self.term_code
        if self.evaluated_at is None:
            return [f"学期 {code} 尚未考核，不能发布：先运行 banzhuren evaluate --term {code}"]
        out = []
        if self.open_rounds:
            names = "、".join(r.describe() for r in self.open_rounds)
            out.append(
                f"学期 {code} 的测评{names}仍在进行中，其答卷尚未计入考核，不能发布："
                f"测评结束（banzhuren round close）后重新运行 banzhuren evaluate --term {code}"
            )
        if self.stale:
            what = "、".join(CHANGE_LABELS.get(kind, kind) for kind, _at in self.stale)
            out.append(
                f"学期 {code} 的考核结果早于之后的变动（{what}），不能发布："
                f"先重新运行 banzhuren evaluate --term {code}"
            )
        return out


def assess(
    term_code: str,
    evaluated_at: dt.datetime | None,
    open_rounds: Iterable[OpenRound],
    latest_changes: Mapping[str, dt.datetime | None],
) -> Readiness:
    """Whether the evaluation stored at ``evaluated_at`` may be published, given the term's
    open rounds and, per kind of change, the latest one (None: none of that kind)."""
    stale: list[tuple[str, dt.datetime]] = []
    if evaluated_at is not None:
        for kind in CHANGE_LABELS:
            at = latest_changes.get(kind)
            if at is not None and at > evaluated_at:
                stale.append((kind, at))
    return Readiness(term_code, evaluated_at, tuple(open_rounds), tuple(stale))
