"""Alembic environment: runs migrations on the project's async engine.

The URL comes from the caller (`core.database.upgrade_database`) or, for the alembic command
line, from `SMARTLIB_DATABASE_URL` / the settings.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy.engine import Connection

import migrations.metadata  # noqa: F401  (registers every table on Base.metadata)
from core.database import Base, create_engine
from core.settings import load_settings

target_metadata = Base.metadata


def _url() -> str:
    return context.config.attributes.get("database_url") or load_settings().database_url


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things in place; batch mode rebuilds the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    engine = create_engine(_url())
    try:
        async with engine.connect() as connection:
            await connection.run_sync(_run)
            await connection.commit()
    finally:
        await engine.dispose()


if context.is_offline_mode():
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    asyncio.run(_run_async())
