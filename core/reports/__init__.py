"""The Student Affairs reports (evaluations, awards, allowance) as rows and rendered files.

``evaluation_rows``/``award_rows``/``allowance_rows`` read stored term evaluations (written by
``core.evaluation``); ``render`` turns rows into table, csv, xlsx or json bytes. The CLI
(``banzhuren report``), the dashboard's downloads and the API use these.
"""

from core.reports.render import FORMATS, KINDS, render
from core.reports.rows import UnknownTerm, allowance_rows, award_rows, evaluation_rows

__all__ = [
    "FORMATS",
    "KINDS",
    "UnknownTerm",
    "allowance_rows",
    "award_rows",
    "evaluation_rows",
    "render",
]
