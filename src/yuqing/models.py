"""Imports every domain's tables so that metadata (and Alembic) sees the whole schema."""

from yuqing.accounts import models as accounts_models
from yuqing.alerts import models as alerts_models
from yuqing.analysis import models as analysis_models
from yuqing.cases import models as cases_models
from yuqing.drills import models as drills_models
from yuqing.ingest import models as ingest_models
from yuqing.notify import models as notify_models
from yuqing.org import models as org_models
from yuqing.reports import models as reports_models
from yuqing.workcal import models as workcal_models

__all__ = [
    "accounts_models",
    "alerts_models",
    "analysis_models",
    "cases_models",
    "drills_models",
    "ingest_models",
    "notify_models",
    "org_models",
    "reports_models",
    "workcal_models",
]
