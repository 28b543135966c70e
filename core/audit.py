"""Every change made through the dashboard writes one audit row, in the same transaction."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from models import AuditLog


def record(session: Session, actor: str, action: str, target: str = "", **detail: Any) -> AuditLog:
    """Add an audit row (committed with the change it describes)."""
    row = AuditLog(actor=actor, action=action, target=target[:200], detail=_plain(detail))
    session.add(row)
    return row


def _plain(value: Any) -> Any:
    """JSON-safe copy: dates and enums become strings."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
