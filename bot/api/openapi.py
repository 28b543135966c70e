"""The OpenAPI 3.1 description served at ``/api/v1/openapi.json``."""

from __future__ import annotations

from typing import Any

# Examples of path parameters (the fuzzing in the tests starts from them).
_EXAMPLES = {"term": "2026-2027-1", "staff_no": "TA001"}


def _get(
    summary: str,
    schema: dict[str, Any],
    params: tuple[str, ...] = ("term",),
    query: tuple[dict[str, Any], ...] = (),
) -> dict:
    parameters = [
        {
            "name": p,
            "in": "path",
            "required": True,
            "schema": {"type": "string"},
            "example": _EXAMPLES[p],
        }
        for p in params
    ]
    responses = {
        "200": {"description": "OK", "content": {"application/json": {"schema": schema}}},
        "401": {"$ref": "#/components/responses/Unauthorized"},
        "403": {"$ref": "#/components/responses/Forbidden"},
        "404": {"$ref": "#/components/responses/NotFound"},
    }
    if query:
        responses["400"] = {"$ref": "#/components/responses/BadRequest"}
    return {
        "get": {"summary": summary, "parameters": [*parameters, *query], "responses": responses}
    }


_ERROR = {
    "application/json": {
        "schema": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "string"}},
        }
    }
}
_TEACHER_FILTERS = (
    {
        "name": "grade",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "enum": ["", "excellent", "good", "pass", "fail", "pending"]},
        "description": "空值表示不筛选",
    },
    {
        "name": "department",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "pattern": "^[0-9]{0,9}$"},
        "description": "党总支编号；空值表示不筛选",
    },
)


_ARRAY = {"type": "array", "items": {"type": "object"}}
_NUM = {"type": ["number", "null"]}

# The JSON report row of DESIGN.md; every key is required.
_REPORT_PROPERTIES: dict[str, Any] = {
    "staff_no": {"type": "string"},
    "teacher": {"type": "string"},
    "department": {"type": ["string", "null"]},
    "classes": {"type": "array", "items": {"type": "string"}},
    "respondents": {"type": "integer"},
    "eligible": {"type": "integer"},
    "response_rate": _NUM,
    "satisfaction_pct": {**_NUM, "description": "null with no respondents"},
    "grade": {"type": "string", "description": "优秀 / 良好 / 合格 / 不合格"},
    "reasons": {"type": "array", "items": {}},
    "logs": {"type": "object", "additionalProperties": {"type": "integer"}},
    "flags": {"type": "array", "items": {}},
}
# Also in every row, beyond DESIGN.md's keys: 第十四条 and 第八条（三）
# (core.evaluation.policy.report_fields).
_POLICY_PROPERTIES: dict[str, Any] = {
    "meetings_held": {"type": ["integer", "null"], "description": "任职期间党总支召开的例会数"},
    "meeting_attendance_rate": {**_NUM, "description": "例会出勤率 0-1"},
    "meetings_missed": {"type": "array", "items": {"type": "object"}},
    "branch_months": {"type": "array", "items": {"type": "object"}},
    "branch_months_missed": {"type": "array", "items": {"type": "string"}},
    "employment": {"type": "array", "items": {"type": "object"}},
    "employment_rate": {**_NUM, "description": "毕业班就业率（去向落实率）0-1"},
}
REPORT_ROW = {
    "type": "object",
    "required": list(_REPORT_PROPERTIES),
    "properties": {**_REPORT_PROPERTIES, **_POLICY_PROPERTIES},
}

_TREND_FILTERS = (
    {
        "name": "department",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "pattern": "^[0-9]{0,9}$"},
        "description": "党总支编号；空值表示全部（党总支令牌只能是本党总支）",
    },
    {
        "name": "teacher",
        "in": "query",
        "required": False,
        "schema": {"type": "string", "maxLength": 32},
        "description": "工号：只看一位班主任",
    },
)
_GROUP_TERM = {
    "type": "object",
    "required": ["term", "published", "satisfaction_pct", "ci_low", "ci_high", "grades"],
    "properties": {
        "term": {"type": "string"},
        "published": {"type": "boolean"},
        "teachers": {"type": "integer"},
        "rated": {"type": "integer"},
        "satisfaction_pct": {**_NUM, "description": "各班主任满意度的平均"},
        "ci_low": _NUM,
        "ci_high": _NUM,
        "change": _NUM,
        "respondents": {"type": "integer"},
        "eligible": {"type": "integer"},
        "response_rate": _NUM,
        "grades": {"type": "object", "additionalProperties": {"type": "integer"}},
        "logs_total": {"type": "integer"},
    },
}
_GROUP = {
    "type": "object",
    "required": ["name", "terms"],
    "properties": {"name": {"type": "string"}, "terms": {"type": "array", "items": _GROUP_TERM}},
}
_TEACHER_TERM = {
    "type": "object",
    "required": ["term", "satisfaction_pct", "ci_low", "ci_high", "grade", "logs"],
    "properties": {
        "term": {"type": "string"},
        "published": {"type": "boolean"},
        "respondents": {"type": "integer"},
        "eligible": {"type": "integer"},
        "response_rate": _NUM,
        "satisfaction_pct": _NUM,
        "ci_low": {**_NUM, "description": "答卷少于最少人数时为 null"},
        "ci_high": _NUM,
        "change": _NUM,
        "grade": {"type": "string"},
        "logs": {"type": "object", "additionalProperties": {"type": "integer"}},
    },
}
TRENDS = {
    "type": "object",
    "required": ["terms", "min_respondents", "school", "departments", "teachers"],
    "properties": {
        "terms": {"type": "array", "items": {"type": "object"}},
        "min_respondents": {"type": "integer"},
        "school": {"oneOf": [_GROUP, {"type": "null"}], "description": "学生处令牌才有"},
        "departments": {"type": "array", "items": _GROUP},
        "teachers": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["staff_no", "teacher", "department", "terms"],
                "properties": {
                    "staff_no": {"type": "string"},
                    "teacher": {"type": "string"},
                    "department": {"type": "string"},
                    "terms": {"type": "array", "items": _TEACHER_TERM},
                },
            },
        },
    },
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {
        "title": "banzhuren API",
        "version": "1",
        "description": "兼职班主任考核数据（只读）。学生处令牌可见全部；党总支令牌只见本党总支；"
        "人事处令牌只见补贴发放表（不含满意度、意见与工作日志）。"
        "令牌由学生处在「用户管理」页或用 `banzhuren user token NAME` 签发，默认 90 天后失效，可吊销。",
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "responses": {
            "Unauthorized": {"description": "缺少、无效、过期或已吊销的令牌", "content": _ERROR},
            "Forbidden": {
                "description": "令牌所属角色无权访问此接口（人事处只可访问 /me、/terms 与补贴发放表）",
                "content": _ERROR,
            },
            "NotFound": {
                "description": "没有该学期/教师，或不在令牌的管辖范围内",
                "content": _ERROR,
            },
            "BadRequest": {"description": "筛选参数有误", "content": _ERROR},
        },
        "schemas": {"ReportRow": REPORT_ROW},
    },
    "paths": {
        "/me": _get("令牌所属用户", {"type": "object"}, ()),
        "/terms": _get("学期列表", _ARRAY, ()),
        "/terms/{term}/evaluations": _get(
            "学期考核报表（DESIGN.md 的 JSON 报表行）",
            {"type": "array", "items": {"$ref": "#/components/schemas/ReportRow"}},
        ),
        "/terms/{term}/overview": _get(
            "学期概览：参评率、等级分布、各党总支满意度", {"type": "object"}
        ),
        "/terms/{term}/teachers": _get(
            "班主任考核表（可用 ?department=ID&grade=excellent|good|pass|fail|pending 筛选）",
            _ARRAY,
            query=_TEACHER_FILTERS,
        ),
        "/terms/{term}/teachers/{staff_no}": _get(
            "一位班主任：考核、分题得分与意见（答卷数不低于最少人数时）、工作日志、参会、不合格情形",
            {"type": "object"},
            ("term", "staff_no"),
        ),
        "/terms/{term}/awards": _get("先进兼职班主任候选人", _ARRAY),
        "/trends": _get(
            "历年趋势：各学期满意度（含95%区间）、等级、工作日志条数；全校（学生处）、各党总支、"
            "各班主任。党总支令牌只含本党总支已发布的学期；答卷少于最少人数时不给区间",
            TRENDS,
            (),
            query=_TREND_FILTERS,
        ),
        "/terms/{term}/allowances": _get("津贴发放表", _ARRAY),
        "/terms/{term}/rounds": _get("满意度测评轮次及实时参评率", _ARRAY),
    },
}
