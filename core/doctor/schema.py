"""Is the database there and migrated? Asked before any command touches it, so that a first
run gets one line pointing at ``banzhuren init`` instead of a SQLAlchemy traceback, and so
that asking never creates an empty SQLite file (the check looks for the file first)."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from models.migrate import alembic_config


class SchemaStatus(enum.Enum):
    MISSING = "missing"  # no file, no database, or no alembic_version table
    BEHIND = "behind"  # migrated, but not to this code's head
    UNKNOWN = "unknown"  # a revision this code does not know (a newer release migrated it)
    CURRENT = "current"
    UNREACHABLE = "unreachable"  # could not connect at all


@dataclass(frozen=True)
class SchemaState:
    status: SchemaStatus
    url: str  # without the password
    current: tuple[str, ...] = ()
    heads: tuple[str, ...] = ()
    error: str = ""

    @property
    def ready(self) -> bool:
        return self.status is SchemaStatus.CURRENT

    def message(self) -> str:
        """One Chinese line naming the database and what to do."""
        if self.status is SchemaStatus.MISSING:
            return f"数据库 {self.url} 尚未初始化：请先运行 banzhuren init"
        if self.status is SchemaStatus.BEHIND:
            return (
                f"数据库 {self.url} 的结构版本较旧（{', '.join(self.current)}，"
                f"最新 {', '.join(self.heads)}）：请运行 banzhuren init 升级"
            )
        if self.status is SchemaStatus.UNKNOWN:
            return (
                f"数据库 {self.url} 的结构版本 {', '.join(self.current)} 不是本程序所知的"
                "（可能已被更新的版本升级）：请安装与之相符的版本"
            )
        if self.status is SchemaStatus.UNREACHABLE:
            return (
                f"无法连接数据库 {self.url}：{self.error}；"
                "请检查 BANZHUREN_DATABASE_URL 和数据库服务，然后运行 banzhuren init"
            )
        return f"数据库 {self.url} 已是最新结构（{', '.join(self.current)}）"


def safe_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL; None for another backend or an in-memory database."""
    parsed = make_url(url)
    if not parsed.drivername.startswith("sqlite"):
        return None
    database = parsed.database or ""
    if database in ("", ":memory:") or database.startswith("file:"):
        return None
    return Path(database)


def head_revisions(url: str) -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(sorted(ScriptDirectory.from_config(alembic_config(url)).get_heads()))


def schema_state(url: str) -> SchemaState:
    """Where the database at ``url`` stands against this code's migrations."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    shown = safe_url(url)
    try:
        parsed = make_url(url)
    except Exception as exc:
        return SchemaState(SchemaStatus.UNREACHABLE, shown, error=_one_line(exc))
    if parsed.drivername.startswith("sqlite"):
        database = parsed.database or ""
        if database in ("", ":memory:"):
            return SchemaState(SchemaStatus.MISSING, shown)
        path = sqlite_path(url)
        # Connecting would create the file: look first, and leave nothing behind.
        if path is not None and not path.is_file():
            return SchemaState(SchemaStatus.MISSING, shown)
    script = ScriptDirectory.from_config(alembic_config(url))
    heads = tuple(sorted(script.get_heads()))
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            current = tuple(sorted(MigrationContext.configure(conn).get_current_heads()))
    except Exception as exc:
        return SchemaState(SchemaStatus.UNREACHABLE, shown, heads=heads, error=_one_line(exc))
    finally:
        engine.dispose()
    if not current:
        return SchemaState(SchemaStatus.MISSING, shown, current, heads)
    if set(current) == set(heads):
        return SchemaState(SchemaStatus.CURRENT, shown, current, heads)
    known = {rev.revision for rev in script.walk_revisions()}
    if not set(current) <= known:
        return SchemaState(SchemaStatus.UNKNOWN, shown, current, heads)
    return SchemaState(SchemaStatus.BEHIND, shown, current, heads)


def _one_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    return f"{exc.__class__.__name__}: {text[0] if text else ''}".strip()
