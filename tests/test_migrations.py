"""The Alembic revisions build exactly the schema the models declare."""

from __future__ import annotations

import datetime as dt

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, select

from yuqing import migrate
from yuqing.analysis.models import Topic, WordGroup
from yuqing.db import Base
from yuqing.org.models import Unit
from yuqing.runtime import Runtime


def test_migrations_match_models(rt: Runtime) -> None:
    with rt.engine.connect() as connection:
        context = MigrationContext.configure(connection)
        assert compare_metadata(context, Base.metadata) == []
    assert migrate.is_current(rt.engine)


def test_upgrade_is_safe_to_run_again(rt: Runtime) -> None:
    migrate.upgrade(rt.engine)
    assert migrate.is_current(rt.engine)


def test_word_groups_are_given_the_unit_of_the_topics_that_use_them(database_url: str) -> None:
    """Revision 0012_unit_ownership: a group used by one unit's topics is that unit's, one used by
    several units' topics their common parent's, one used by no topic (or by a topic without a
    unit) the top unit's."""
    engine = create_engine(database_url)
    config = migrate.alembic_config()
    now = dt.datetime(2026, 11, 20, tzinfo=dt.UTC)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0011")
            units = Unit.__table__
            for uid, name, parent in (
                (1, "市政府", None),
                (2, "卫健委", 1),
                (3, "教育局", 1),
                (4, "鼓楼医院", 2),
            ):
                connection.execute(
                    units.insert().values(id=uid, name=name, parent_id=parent, kind="bureau", regions=[])
                )
            groups = ("地域", "医疗", "校园", "闲置", "杂项")
            for name in groups:
                connection.execute(
                    WordGroup.__table__.insert().values(name=name, words=["词"], updated_at=now)
                )
            for name, rule, unit in (
                ("医院投诉", "@地域 + [@医疗] + 投诉", "鼓楼医院"),
                ("卫健", "@医疗 - @杂项", "2"),
                ("学校", "(@地域|@校园)+事故", "教育局"),
                ("无单位", "@杂项", None),
            ):
                connection.execute(
                    Topic.__table__.insert().values(
                        name=name, rule=rule, unit=unit, enabled=True, created_at=now
                    )
                )
            command.upgrade(config, "0012_unit_ownership")
            owners = dict(connection.execute(select(WordGroup.name, WordGroup.owner_unit_id)).all())
    finally:
        engine.dispose()
    assert owners == {"地域": 1, "医疗": 2, "校园": 3, "闲置": 1, "杂项": 1}
