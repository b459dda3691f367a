"""Requests generated from the app's own OpenAPI spec (hypothesis): none may end in a 500."""

import asyncio
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cloud.accounts.tokens import issue_token
from cloud.store import migrate
from cloud.store.models import Role
from tests.cloud.api.conftest import SECRET, SERVICE, World, http
from tests.cloud.helpers import NOW

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
SKIP = {("get", "/alerts/stream")}  # an endless SSE stream, tested on its own


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    """Generated requests exercise the API, not the engine: SQLite only."""
    url = f"sqlite:///{tmp_path / 'cloud.sqlite3'}"
    migrate(url)
    return url


def from_schema(
    schema: dict[str, Any], spec: dict[str, Any], depth: int = 0
) -> st.SearchStrategy[Any]:
    """Values for a JSON schema (the subset FastAPI emits); sometimes anything at all."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return from_schema(spec["components"]["schemas"][name], spec, depth)
    if depth > 4:
        return JSON
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    if "const" in schema:
        return st.just(schema["const"])
    for key in ("anyOf", "oneOf", "allOf"):
        if key in schema:
            return st.one_of([from_schema(s, spec, depth + 1) for s in schema[key]])
    kind = schema.get("type")
    if kind == "string":
        if "pattern" in schema:
            return st.from_regex(schema["pattern"], fullmatch=True) | st.text(max_size=10)
        return st.text(
            min_size=schema.get("minLength", 0), max_size=min(schema.get("maxLength", 30), 30)
        )
    if kind == "integer":
        return st.integers(schema.get("minimum", -5), schema.get("maximum", 2**31)) | st.integers()
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    if kind == "null":
        return st.none()
    if kind == "array":
        items = from_schema(schema.get("items", {}), spec, depth + 1)
        return st.lists(
            items, min_size=schema.get("minItems", 0), max_size=min(schema.get("maxItems", 3), 3)
        )
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        required = set(schema.get("required", []))
        return st.fixed_dictionaries(
            {k: from_schema(v, spec, depth + 1) for k, v in props.items() if k in required},
            optional={
                k: from_schema(v, spec, depth + 1) for k, v in props.items() if k not in required
            },
        )
    return JSON


def operations(spec: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (method, path, operation) in the spec but the skipped ones."""
    return [
        (method, path, op)
        for path, item in spec["paths"].items()
        for method, op in item.items()
        if (method, path) not in SKIP
    ]


def requests(spec: dict[str, Any], tokens: list[dict[str, str]]) -> st.SearchStrategy[Any]:
    """Requests: an operation, its parameters and body, some caller (or none)."""
    ops = operations(spec)

    @st.composite
    def request(draw: st.DrawFn) -> dict[str, Any]:
        method, path, op = draw(st.sampled_from(ops))
        query: dict[str, Any] = {}
        for p in op.get("parameters", []):
            value = draw(from_schema(p.get("schema", {}), spec))
            if p["in"] == "path":
                path = path.replace("{" + p["name"] + "}", quote(str(value), safe="") or "x")
            elif p["in"] == "query" and draw(st.booleans()):
                query[p["name"]] = value if isinstance(value, (str, int, float)) else str(value)
        body: Any = None
        content = op.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            body = draw(from_schema(content["application/json"]["schema"], spec) | JSON)
        return {
            "method": method.upper(),
            "url": path,
            "params": query,
            "json": body,
            "headers": draw(st.sampled_from(tokens)),
        }

    return request()


def test_no_generated_request_is_a_server_error(app: FastAPI, world: World) -> None:
    spec = app.openapi()
    tokens = [{}, SERVICE, {"Authorization": "Bearer x.y.z"}] + [
        {"Authorization": f"Bearer {issue_token(SECRET, world.ids[name], role, NOW, 3600)}"}
        for name, role in [
            ("alice", Role.CAREGIVER),
            ("rita", Role.RESEARCHER),
            ("ian", Role.INSTALLER),
        ]
    ]

    async def send(request: dict[str, Any]) -> httpx.Response:
        async with http(app) as c:
            return await c.request(**request)

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        derandomize=False,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(requests(spec, tokens))
    def check(request: dict[str, Any]) -> None:
        response = asyncio.run(send(request))
        assert response.status_code < 500, (request, response.text)
        if response.status_code >= 400:
            assert isinstance(response.json()["detail"], str), response.text

    check()


async def test_ids_and_offsets_beyond_the_stores_integers_are_422_not_500(app: FastAPI) -> None:
    async with http(app) as c:
        for path in ("/devices?offset=99999999999999999999", "/alerts/99999999999999999999"):
            response = await c.get(path, headers=SERVICE)
            assert response.status_code == 422, (path, response.text)
            assert isinstance(response.json()["detail"], str)
