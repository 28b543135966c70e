"""Declarative base with a constraint naming convention, so Alembic names are stable."""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any, ClassVar

from sqlalchemy import JSON, Column, DateTime, Enum, ForeignKey, MetaData, Table, func
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator):
    """A timestamp that is always timezone-aware UTC in Python, on SQLite too (which stores
    naive values and would otherwise hand back datetimes that cannot be compared to now())."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given for a UTC timestamp column")
        value = value.astimezone(dt.UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dt.datetime: UTCDateTime(),
        dict[str, Any]: JSON,
        list[Any]: JSON,
    }


def link_table(name: str, *keys: tuple[str, str]) -> Table:
    """A many-to-many table: one (column, referenced "table.id") pair per side, the columns
    together its primary key, each row deleted with either side."""
    return Table(
        name,
        Base.metadata,
        *(
            Column(column, ForeignKey(target, ondelete="CASCADE"), primary_key=True)
            for column, target in keys
        ),
    )


def str_enum(enum_cls: type[enum.Enum], length: int = 32, name: str | None = None) -> Enum:
    """Store an enum by its (English) value, as a portable VARCHAR with a CHECK constraint."""
    return Enum(
        enum_cls,
        native_enum=False,
        create_constraint=True,
        length=length,
        values_callable=lambda members: [m.value for m in members],
        # The name becomes the CHECK constraint's; pass one when a table has two such columns.
        name=name or enum_cls.__name__.lower(),
        validate_strings=True,
    )


class LabelledEnum(enum.StrEnum):
    """A string enum declared as ``NAME = "value", "中文"``: the value is what is stored and
    sent, ``label`` what a person reads."""

    label: str

    def __new__(cls, value: str, label: str) -> LabelledEnum:
        member = str.__new__(cls, value)
        member._value_ = value
        member.label = label
        return member


class CreatedAt:
    created_at: Mapped[dt.datetime] = mapped_column(server_default=func.now(), default=utcnow)
