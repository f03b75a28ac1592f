"""What the API answers besides success, as its OpenAPI description says: every refusal has the
body `{"error": {"status": N, "message": "…"}}` (422 adds `detail`, the list of parameters that
were wrong), and every operation declares the statuses it can give."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field

__all__ = [
    "DESCRIPTIONS",
    "REFUSED",
    "SIGNED_IN",
    "ErrorBody",
    "ErrorDetail",
    "describe_errors",
    "errors",
]


class ErrorDetail(BaseModel):
    status: int = Field(description="HTTP 状态码")
    message: str = Field(description="原因（中文），说明出了什么问题、可以怎么办")
    detail: list[dict[str, Any]] | None = Field(None, description="422：每个不符合要求的参数")


class ErrorBody(BaseModel):
    error: ErrorDetail


DESCRIPTIONS: dict[int, str] = {
    400: "请求内容有误（原因见 message）",
    401: "未登录或登录已过期",
    403: "无权执行：缺少所需角色，或缺少有效的安全令牌（CSRF）",
    404: "找不到所指的对象",
    409: "当前状态下不能执行此操作（原因见 message）",
    413: "内容超过大小上限",
    422: "参数不符合要求（message 指出是哪一个）",
    503: "暂时无法完成：数据库只读，或缺少所需的组件（原因见 message）",
    507: "磁盘空间已满，数据无法保存",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The `responses` of a route for these error statuses."""
    return {code: {"model": ErrorBody, "description": DESCRIPTIONS[code]} for code in codes}


# Every route behind the login: no session, and the storage conditions any request can meet
# (looking up the session writes when it is renewed).
SIGNED_IN = errors(401, 503, 507)
# A route whose domain service may refuse (`service_errors`, `audited`): the statuses
# `error_status` gives — bad input, a role (or the CSRF token) missing, nothing of that id, a step
# the plan does not allow now.
REFUSED = errors(400, 403, 404, 409)

_VALIDATION_REF = "#/components/schemas/HTTPValidationError"
_ERROR_REF = "#/components/schemas/ErrorBody"


def describe_errors(
    schema: dict[str, Any], also: Mapping[tuple[str, str], Iterable[int]] | None = None
) -> dict[str, Any]:
    """Make FastAPI's generated description true to what the app answers, in place: its 422 is
    our error body, not FastAPI's `{"detail": […]}`; a path that names something by id can always
    answer 404; `also` adds statuses to operations (method, path) whose routes do not declare
    them."""
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    if "ErrorBody" not in components:
        body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(body.pop("$defs", {}))
        components["ErrorBody"] = body
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            answers: dict[str, Any] = operation["responses"]
            invalid = answers.get("422")
            if invalid is not None and _VALIDATION_REF in str(invalid):
                answers["422"] = _described(422)
            in_path = any(p.get("in") == "path" for p in operation.get("parameters", []))
            if in_path and "404" not in answers:
                answers["404"] = _described(404)
    for (method, path), codes in (also or {}).items():
        operation = schema.get("paths", {}).get(path, {}).get(method)
        if operation is not None:
            for code in codes:
                operation["responses"].setdefault(str(code), _described(code))
    if _VALIDATION_REF not in str(schema.get("paths")):
        components.pop("HTTPValidationError", None)
        components.pop("ValidationError", None)
    return schema


def _described(code: int) -> dict[str, Any]:
    return {
        "description": DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": _ERROR_REF}}},
    }
