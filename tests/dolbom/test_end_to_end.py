"""The walking skeleton end to end: a human '도와주세요' reaches a caregiver and back.

Real parts: the real Vosk model and VAD, the real outbox and MQTT link, the real cloud with
its store, a real HTTP webhook receiver. Once through the embedded amqtt broker with SQLite
(what `dolbom demo` runs), once through the system Mosquitto (MQTT 5, shared subscription)
with PostgreSQL.
"""

import io
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from cloud.service import CloudService
from dolbom.demo import CAREGIVER, ExternalBroker, Timeline, run_demo
from dolbom.demo_logins import ORGANISATION_NAME, SENIOR_ID, SENIOR_NAME, seed_demo_logins

_CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')

pytestmark = pytest.mark.slow


def _check(timeline: Timeline) -> None:
    assert timeline.webhook is not None
    assert timeline.webhook.signature_ok
    assert timeline.webhook.body["kind"] == "emergency"
    assert timeline.webhook.body["severity"] == "critical"
    assert timeline.alert is not None
    assert timeline.alert["status"] == "acknowledged"
    assert timeline.alert["acknowledged_by"] == CAREGIVER
    assert any("보호자에게 연락했어요" in line for line in timeline.robot_said)
    assert any(CAREGIVER in line for line in timeline.robot_said)
    names = [name for name, _at, _detail in timeline.rows]
    for step in ("heard", "countdown", "outbox", "mqtt", "stored", "alert", "webhook"):
        assert step in names


@contextmanager
def _logged_in(api: str, username: str, password: str) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=api, timeout=20, headers={"accept-language": "en"}) as http:
        found = _CSRF.search(http.get("/app/login").text)
        assert found is not None
        r = http.post(
            "/app/login",
            data={"csrf": found.group(1), "username": username, "password": password},
        )
        assert r.status_code == 303, (username, r.status_code, r.text[:300])
        yield http


class _TryTheLogins:
    """What `dolbom demo` does after its story, then each printed login used as a person would."""

    seen: dict[str, str]

    def __call__(self, timeline: Timeline, cloud: CloudService, api: str, device_id: str) -> None:
        logins = {
            x.username: x for x in seed_demo_logins(cloud.sessions, device_id, datetime.now(UTC))
        }
        assert set(logins) == {"daughter", "worker", "researcher"}
        self.seen = {}
        with _logged_in(api, "daughter", logins["daughter"].password) as http:
            page = http.get(f"/app/seniors/{SENIOR_ID}")
            assert page.status_code == 200
            self.seen["daughter"] = page.text
        with _logged_in(api, "worker", logins["worker"].password) as http:
            board = http.get("/app/board")
            assert board.status_code == 200
            self.seen["worker"] = board.text
        with _logged_in(api, "researcher", logins["researcher"].password) as http:
            assert http.get(f"/app/seniors/{SENIOR_ID}").status_code in (403, 404)
            self.seen["researcher"] = http.get("/app/research").text
        with httpx.Client(base_url=api, timeout=20) as http:  # a wrong password is refused
            found = _CSRF.search(http.get("/app/login").text)
            assert found is not None
            r = http.post(
                "/app/login",
                data={"csrf": found.group(1), "username": "worker", "password": "x" * 16},
            )
            assert r.status_code != 303


def test_call_for_help_reaches_caregiver_through_embedded_broker_and_sqlite(
    tmp_path: Path,
) -> None:
    logins = _TryTheLogins()
    timeline = run_demo(Console(file=io.StringIO()), tmp_path / "demo", timeout_s=45, hold=logins)
    _check(timeline)
    # The app after the story: the daughter sees her mother's page with the robot's alert,
    # the care centre's worker sees her on the board, the researcher sees no senior.
    assert SENIOR_NAME in logins.seen["daughter"]
    assert "emergency" in logins.seen["daughter"].lower() or "응급" in logins.seen["daughter"]
    assert SENIOR_NAME in logins.seen["worker"]
    assert (
        ORGANISATION_NAME.split(" / ")[1] in logins.seen["worker"]
        or "Jung-gu" in logins.seen["worker"]
    )
    assert SENIOR_NAME not in logins.seen["researcher"]


@pytest.mark.postgres
@pytest.mark.mosquitto
def test_call_for_help_reaches_caregiver_through_mosquitto_and_postgres(
    tmp_path: Path, pg_url: str, mqtt_broker: tuple[str, int]
) -> None:
    device = f"e2e-{uuid.uuid4().hex[:8]}"
    broker = ExternalBroker(mqtt_broker[1], "5", shared=True, share_group=f"e2e{device[4:]}")
    timeline = run_demo(
        Console(file=io.StringIO()),
        tmp_path / "demo",
        timeout_s=45,
        broker=broker,
        database_url=pg_url,
        device_id=device,
    )
    _check(timeline)
