"""Imports every domain's tables so that metadata (and Alembic) sees the whole schema."""

from yuqing.ingest import models as ingest_models

__all__ = ["ingest_models"]
