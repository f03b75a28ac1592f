"""Alembic migrations of the yuqing schema, applied by `yuqing init` and at start-up."""
