"""Issue 16: /livez fails only when a restart would help; /readyz when traffic should not come."""

import pytest
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from cloud.api import create_app
from cloud.settings import CloudSettings
from tests.cloud.api.conftest import TOKEN, http


@pytest.mark.parametrize(
    ("mqtt", "ingest", "live", "ready"),
    [
        (True, "ok", 200, 200),
        (True, "stuck", 200, 503),  # lagging: not ready, but a restart is not the cure yet
        (False, "ok", 200, 503),  # broker down: the worker reconnects by itself
        (True, "dead", 503, 503),  # the ingest loop ended: restart
    ],
)
async def test_liveness_and_readiness_mean_what_they_say(
    sessions: sessionmaker[Session], mqtt: bool, ingest: str, live: int, ready: int
) -> None:
    app = create_app(
        CloudSettings(api_token=SecretStr(TOKEN)),
        session_factory=sessions,
        mqtt_connected=lambda: mqtt,
        ingest_state=lambda: ingest,
    )
    async with http(app) as c:
        assert (await c.get("/livez")).status_code == live  # no token: probes
        r = await c.get("/readyz")
        assert r.status_code == ready
        assert r.json()["ingest"] == ingest
