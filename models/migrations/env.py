"""Alembic environment: the URL comes from the config set up by ``models.migrate``."""

from alembic import context
from sqlalchemy import create_engine, pool

import models

config = context.config


def render_item(type_, obj, autogen_context):
    # Migrations stay independent of our Python-side type wrappers.
    if type_ == "type" and isinstance(obj, models.base.UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


target_metadata = models.Base.metadata


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    engine = create_engine(config.get_main_option("sqlalchemy.url"), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
            render_as_batch=True,
            compare_type=True,
            render_item=render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
