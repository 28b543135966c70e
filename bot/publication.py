"""Publishing a term's evaluation results to the head teachers (``Term.published_at``).

Once a term is published, each head teacher may see their own result by chat (``考核结果``)
and is told it once through the outbox by ``worker.tasks.evaluation.announce_published_results``
(hourly on the beat; right away, in-process, in embedded mode where there is no beat). The
command line and the dashboard both change the state here, with an audit row in the same
transaction.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from bot.dashboard import audit
from bot.settings import Settings
from models import Term, TermEvaluation
from models.base import utcnow
from models.term import find_term


class PublishError(ValueError):
    """The term cannot be published or withdrawn; the message says why, in one line."""


def _local(value: dt.datetime, settings: Settings | None) -> str:
    if settings is not None:
        value = value.astimezone(settings.tz)
    return value.strftime("%Y-%m-%d %H:%M")


def set_published(
    session: Session,
    term_code: str,
    *,
    publish: bool = True,
    actor: str = "cli",
    settings: Settings | None = None,
) -> Term:
    """Publish (or, ``publish=False``, withdraw) the results of ``term_code``; adds the audit
    row, does not commit. Raises PublishError for an unknown term, a term not evaluated yet,
    or one already in the asked state."""
    term = find_term(session, term_code)
    if term is None:
        raise PublishError(f"没有学期 {term_code}（用 banzhuren term add 添加）")
    if publish:
        if term.evaluated_at is None:
            raise PublishError(
                f"学期 {term_code} 尚未考核，不能发布：先运行 banzhuren evaluate --term {term_code}"
            )
        if term.published_at is not None:
            raise PublishError(
                f"学期 {term_code} 的考核结果已于 {_local(term.published_at, settings)} 发布"
            )
        term.published_at = utcnow()
    else:
        if term.published_at is None:
            raise PublishError(f"学期 {term_code} 的考核结果尚未发布，无需撤回")
        term.published_at = None
    teachers = session.scalar(
        select(func.count(TermEvaluation.id)).where(TermEvaluation.term_id == term.id)
    )
    audit.record(
        session,
        actor,
        "term.publish" if publish else "term.unpublish",
        term_code,
        teachers=teachers,
    )
    session.flush()
    return term


def announce_now(settings: Settings) -> int:
    """Embedded mode has no beat: run the announcing task in this process now (after the
    publication committed). Teachers already told (Reminder rows) are not told again, so this
    and a later beat run never announce twice. Returns how many teachers were told."""
    from worker.celery_app import configure_celery

    configure_celery(settings)
    from worker.tasks.evaluation import announce_published_results

    return int(announce_published_results.apply().get())
