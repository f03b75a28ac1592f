"""The Alembic revisions build exactly the schema the models declare."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from yuqing import migrate
from yuqing.db import Base
from yuqing.runtime import Runtime


def test_migrations_match_models(rt: Runtime) -> None:
    with rt.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
    assert migrate.is_current(rt.engine)


def test_upgrade_is_safe_to_run_again(rt: Runtime) -> None:
    migrate.upgrade(rt.engine)
    assert migrate.is_current(rt.engine)
