"""Alembic environment: runs migrations on the connection or URL handed over by yuqing.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import yuqing.models  # noqa: F401  (registers every table on Base.metadata)
from yuqing.db import Base

config = context.config
target_metadata = Base.metadata


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None
    engine = create_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run()
