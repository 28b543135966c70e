"""反馈跟踪 (issue 25): the 反馈 counsellors have not acknowledged yet, oldest first — who sent
it, about which class, to which counsellor, how long ago, whether the reminder went. The student
and the text are shown only to the branch of that class (Student Affairs sees that a 反馈 waits,
not what it says); the head teacher and the counsellor have them in the chat."""

from __future__ import annotations

import datetime as dt

from flask import render_template
from flask_login import current_user

from bot.dashboard.views import bp
from bot.request_session import db
from core.worklog.feedback_replies import REMIND_AFTER, open_feedback
from models.base import utcnow


def age_text(age: dt.timedelta) -> str:
    if age >= dt.timedelta(days=1):
        return f"{age.days} 天"
    return f"{max(1, age.seconds // 3600)} 小时"


@bp.route("/feedback")
def feedback():
    rows = open_feedback(db(), current_user.scope, utcnow())
    return render_template(
        "dashboard/feedback.html",
        rows=rows,
        age_text=age_text,
        overdue=REMIND_AFTER,
        text_shown=current_user.scope is not None,
    )
