"""Issue 17: the API's OpenAPI version and /healthz say the package metadata's version."""

import httpx

from protocol.release import version


async def test_openapi_version_is_the_package_version(client: httpx.AsyncClient) -> None:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    assert r.json()["info"]["version"] == version()


async def test_healthz_reports_the_package_version(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.json()["version"] == version()
