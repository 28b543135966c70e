"""The API fuzzed from its own OpenAPI description (schemathesis): every endpoint, as Student
Affairs, as a branch, without a token and with a bad one. No 5xx, every response matches the
schema (status code, content type, body). Bounded: a few examples per endpoint, plus each
endpoint's documented example (a real term and teacher, so the 200 bodies are checked too)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from sqlalchemy import select

from models import Department, UserRole
from tests.support.dashboard import build_world, make_token, make_user

FUZZ = settings(
    max_examples=8,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
)


@pytest.fixture
def headers(session) -> list[dict[str, str]]:
    """The five callers: Student Affairs, a branch, 人事处, a bad token, no token."""
    build_world(session)
    affairs = make_user(session, "xsc", UserRole.AFFAIRS)
    dep = session.scalar(select(Department).where(Department.name == "钢琴系党总支"))
    branch = make_user(session, "gq", UserRole.BRANCH, dep)
    hr = make_user(session, "rsc", UserRole.HR)
    return [
        {"Authorization": f"Bearer {make_token(session, affairs)}"},
        {"Authorization": f"Bearer {make_token(session, branch)}"},
        {"Authorization": f"Bearer {make_token(session, hr)}"},
        {"Authorization": "Bearer bzr_not-a-real-token"},
        {},
    ]


def check(case, headers: list[dict[str, str]], statuses: set[int]) -> None:
    for h in headers:
        response = case.call_and_validate(headers=h)
        assert response.status_code < 500
        statuses.add(response.status_code)


def test_api_conforms_to_its_openapi(app, headers):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == len(schema.raw_schema["paths"]) >= 9
    statuses: set[int] = set()
    for operation in operations:
        # The documented example first: a real term and teacher.
        example = operation.Case(
            path_parameters={p.name: p.definition["example"] for p in operation.path_parameters}
        )
        check(example, headers, statuses)
        # Values PostgreSQL cannot store or that no code can have: 404, never a 500.
        for odd in ("\x00", "x" * 300, "%", "学期 2026"):
            if operation.path_parameters:
                names = [p.name for p in operation.path_parameters]
                check(operation.Case(path_parameters=dict.fromkeys(names, odd)), headers, statuses)
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @FUZZ
            @given(case=operation.as_strategy(generation_mode=mode))
            def fuzz(case):
                check(case, headers, statuses)

            fuzz()
    # Both the real data and the refusals were exercised.
    assert {200, 401, 403, 404} <= statuses


def test_nul_bytes_in_dashboard_parameters_are_refused(client, session):
    from tests.support.dashboard import login

    build_world(session)
    make_user(session, "xsc", UserRole.AFFAIRS)
    login(client, "xsc")
    assert client.get("/dashboard/teachers?q=%00").status_code == 400
    assert client.get("/dashboard/?term=%00").status_code == 400
    assert client.get("/dashboard/teachers/%00").status_code == 404
