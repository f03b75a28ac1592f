"""Imports every domain's tables so that metadata (and Alembic) sees the whole schema."""

from yuqing.analysis import models as analysis_models
from yuqing.ingest import models as ingest_models

__all__ = ["analysis_models", "ingest_models"]
