"""Trends across terms (issue 24): per head teacher, per branch and for the school, from stored
term evaluations. ``aggregate`` is pure (points in, series out); ``queries`` reads the points a
caller may see; the dashboard, the API and the xlsx report are thin edges over both."""

from core.trends.aggregate import (
    GroupTerm,
    GroupTrend,
    TeacherTerm,
    TeacherTrend,
    TermPoint,
    Trends,
    build,
    mean_with_interval,
    trend_sheet,
    trends_json,
)
from core.trends.queries import TREND_SHEET, load_points, report_sheets, trends_for

__all__ = [
    "TREND_SHEET",
    "GroupTerm",
    "GroupTrend",
    "TeacherTerm",
    "TeacherTrend",
    "TermPoint",
    "Trends",
    "build",
    "load_points",
    "mean_with_interval",
    "report_sheets",
    "trend_sheet",
    "trends_for",
    "trends_json",
]
