"""A sample of each router's errors over HTTP: every `detail` is `한국어 / English` (a field path
first where there is one), whatever raised it: a rule, pydantic, Starlette or the auth checks."""

import re

import httpx
import pytest

from tests.cloud.api.bilingual import english
from tests.cloud.api.conftest import World, login

_HANGUL = re.compile(r"[\uac00-\ud7a3]")
_WORD = re.compile(r"[A-Za-z]{3,}")

# (who, method, path, JSON body, status, a fact the English part must name)
CASES = [
    (
        None,
        "POST",
        "/auth/login",
        {"username": "ada", "password": "wrong-password"},
        401,
        "invalid username or password",
    ),
    (None, "GET", "/seniors", None, 401, "missing bearer token"),
    ("ada", "POST", "/accounts/9999/disable", None, 404, "no account with id 9999"),
    ("ada", "GET", "/alerts/9999", None, 404, "no alert with id 9999"),
    (
        "ada",
        "POST",
        "/seniors",
        {"id": "s-a", "display_name": "x"},
        409,
        "a senior with id 's-a' exists",
    ),
    ("ada", "POST", "/seniors", {"id": "s c", "display_name": "x"}, 422, "body.id: String"),
    (
        "ada",
        "PUT",
        "/seniors/s-a/caregivers/9999",
        {"relation": "son"},
        404,
        "no account with id 9999",
    ),
    (
        "alice",
        "POST",
        "/seniors/s-a/contacts",
        {"name": "n", "relation": "r", "channel": "email", "target": "nope"},
        422,
        "body.target: an email contact needs an e-mail address",
    ),
    ("alice", "GET", "/seniors/s-a/contacts/9999", None, 404, "has no contact with id 9999"),
    ("ada", "GET", "/devices/nope", None, 404, "no device with id 'nope'"),
    ("ada", "GET", "/seniors/s-a/escalation-policy", None, 404, "has no escalation policy yet"),
    ("alice", "GET", "/seniors/s-a/reminders/9999", None, 404, "has no reminder with id 9999"),
    ("alice", "POST", "/seniors/s-a/messages", {"text": ""}, 422, "body.text"),
    ("ada", "GET", "/organisations/nope", None, 404, "no organisation with id 'nope'"),
    ("ada", "GET", "/model-packages/nope/1.0.0", None, 404, "no model package"),
    ("rita", "GET", "/research/studies/nope", None, 404, "no study with id 'nope'"),
    ("alice", "GET", "/research/studies", None, 403, "the caregiver role may not use"),
    ("alice", "GET", "/no/such/path", None, 404, "Not Found"),
    ("alice", "DELETE", "/seniors", None, 405, "Method Not Allowed"),
]


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "status", "fact"),
    CASES,
    ids=[f"{c[1]} {c[2]}" for c in CASES],
)
async def test_an_api_error_is_said_in_korean_and_english(
    client: httpx.AsyncClient,
    world: World,
    who: str | None,
    method: str,
    path: str,
    body: object,
    status: int,
    fact: str,
) -> None:
    headers = await login(client, who) if who else {}
    r = await client.request(method, path, json=body, headers=headers)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str)
    assert _HANGUL.search(detail), detail
    assert _WORD.search(detail), detail
    assert fact in english(detail)


async def test_a_body_that_is_not_json_is_refused_in_both_languages(
    client: httpx.AsyncClient, world: World
) -> None:
    headers = await login(client, "ada") | {"content-type": "application/json"}
    r = await client.post("/seniors", content=b'{"id": ', headers=headers)
    assert r.status_code == 422
    detail = r.json()["detail"]
    assert "JSON 형식이 잘못되었습니다" in detail
    assert "JSON decode error" in english(detail) or "Invalid JSON" in english(detail)
