"""Schemathesis over the app's own OpenAPI spec (issue 14 item 15): no request, however
malformed and whoever sends it, ends in a 5xx, and every response matches the spec."""

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from cloud.accounts.tokens import issue_token
from cloud.store.models import Role
from tests.cloud.api.apifuzz import fuzz
from tests.cloud.api.conftest import SECRET, SERVICE, World, http
from tests.cloud.helpers import NOW


@pytest.fixture
def database_url(tmp_path: Path, migrated_sqlite: Callable[[Path], str]) -> str:
    """Generated requests exercise the API, not the engine: SQLite only."""
    url = migrated_sqlite(tmp_path / "cloud.sqlite3")
    return url


def test_no_generated_request_is_a_server_error_or_off_spec(app: FastAPI, world: World) -> None:
    callers = [{}, SERVICE, {"Authorization": "Bearer x.y.z"}] + [
        {"Authorization": f"Bearer {issue_token(SECRET, world.ids[name], role, NOW, 3600)}"}
        for name, role in [
            ("alice", Role.CAREGIVER),
            ("rita", Role.RESEARCHER),
            ("ian", Role.INSTALLER),
        ]
    ]
    report = fuzz(app, callers, keep=lambda label: " /research" not in label)
    assert report.operations >= 40
    assert report.requests >= report.operations * 2
    assert max(report.statuses) < 500
    assert any(200 <= s < 300 for s in report.statuses)  # not only refusals


async def test_ids_and_offsets_beyond_the_stores_integers_are_422_not_500(app: FastAPI) -> None:
    async with http(app) as c:
        for path in ("/devices?offset=99999999999999999999", "/alerts/99999999999999999999"):
            response = await c.get(path, headers=SERVICE)
            assert response.status_code == 422, (path, response.text)
            assert isinstance(response.json()["detail"], str)


async def test_deeply_nested_json_to_login_is_400(app: FastAPI) -> None:
    async with http(app) as c:
        body = b'{"username":' * 30_000 + b"1" + b"}" * 30_000
        r = await c.post("/auth/login", content=body, headers={"Content-Type": "application/json"})
    assert r.status_code in (400, 422)
    assert isinstance(r.json()["detail"], str)
