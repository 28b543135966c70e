"""``send_outbound(message_id)``: send one outbox row through WeChat's customer-service API.

Enqueued by :mod:`core.outbox` after the commit that wrote the row. Idempotent (a row sent
or given up is skipped; on PostgreSQL a row being sent by another worker is skipped too);
network errors and WeChat's "system busy" are retried with exponential backoff; token errors
(40001/40014/42001) refresh the shared token once inside :class:`core.wechat.api.WeChatApi`;
45015/45047 and other refusals are recorded on the row and not retried.
"""

from __future__ import annotations

from core import jobs
from core.celery_app import celery
from core.fanout import deliver_batch
from core.outbox import RETRY, deliver

MAX_RETRIES = 6


def backoff_seconds(retries: int) -> int:
    """Countdown before retry number ``retries + 1``: 2 s, 8 s, 32 s ... capped at 10 min."""
    return min(600, 2 * 4**retries)


@celery.task(
    bind=True,
    name=jobs.SEND_OUTBOUND,
    max_retries=MAX_RETRIES,
    # Within the lease of a send (core.outbox.IN_FLIGHT): a send still running past it is
    # taken for cut off and settled as 可能已送达 by the sweep.
    time_limit=45,
    soft_time_limit=40,
)
def send_outbound(self, message_id: int) -> str:
    outcome = deliver(message_id)
    if outcome == RETRY and self.request.retries < self.max_retries:
        raise self.retry(countdown=backoff_seconds(self.request.retries))
    return outcome


@celery.task(name=jobs.SEND_OUTBOUND_BATCH, time_limit=45, soft_time_limit=40)
def send_outbound_batch(message_ids: list[int]) -> dict[str, int]:
    """A batch of reach rows (a round's notices, issue 26), sent on threads of this task; its
    rows to retry go to :func:`send_outbound` one by one."""
    return deliver_batch(message_ids)
