"""The caregivers' app at national size (issue 15): page server time, ingest -> open browser,
and many live SSE clients.

The store (SQLite file, or PostgreSQL with --store postgresql) holds `--seniors` seniors with one
robot each: `--days` days of hourly events per robot (activity and heartbeat) and, with
`--daily-days`, that many days of daily ones before (activity, mood and battery: a year of
daily metrics with `--daily-days 365`); every 20th senior has an open emergency, raised
through the real ingest and alert engine. An agency worker is linked to `--per-agency` of them,
a daughter to one. Pages go to the real app in-process (httpx over ASGI: routing, templates,
store; no network), each `--repeat` times after one warm-up:
- the triage board (HTML and its htmx rows) and its CSV, for the worker;
- "my seniors" and a senior's page (status line, open alerts, 50 events), for the daughter;
- an alert page, for the worker.
Baseline in the same run: the API's JSON `GET /seniors?limit=300` and `GET /alerts` for the
same worker (no status line computed). Target (issue 15): p95 <= 300 ms per page.
`--organisations`: the seniors belong to organisations of `--per-agency` each (7 regions
each) and the worker sees theirs as its staff, with no caregiver link (also times the
organisation's page, 300 seniors).
`--live N`: the whole cloud (CloudService: MQTT ingest on Mosquitto, alert engine, uvicorn on
127.0.0.1) on the same store; chromium (Debian's) open on the daughter's "my seniors"; N
emergencies published to the broker, each timed from publish to the DOM showing it (target
p95 <= 1 s), then resolved through the API. `--sse-clients N --sse-hold-s S`: N SSE clients
(httpx, another process) on `/alerts/stream` as the worker for S seconds while an emergency is
published every `--sse-every-s`; every alert each client received is counted against those sent.
In the live parts the inactivity/offline sweep is off (the seeded robots are silent; the sweep
would raise thousands of alerts that are not the point): the output says so.
`--full`: the issue's size: 10,000 seniors, organisations of 300, PostgreSQL, a year of daily
events and 2 days hourly, --live 20, 1,000 SSE clients held 300 s (`--live 0 --sse-clients 0`:
only the pages' server time; `--keep` reuses the seeded database). `--report` (with
`--organisations`): only the board and the daily report of yesterday (page and CSV), same run.
Prints a table and writes benchmarks/results/app.json (app_postgresql.json, app_full.json).
Usage: .venv/bin/python benchmarks/app.py [--seniors 1000] [--per-agency 300] [--days 14] [--full]
"""

import argparse
import asyncio
import contextlib
import json
import logging
import platform
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import percentiles
from cloud.accounts import Passwords, create_account
from cloud.alerts import AlertEngine
from cloud.api import create_app
from cloud.app.status import OPEN_STATUSES
from cloud.ingest import ingest_message
from cloud.service import CloudService
from cloud.settings import CloudSettings
from cloud.store import make_engine, make_session_factory, migrate
from cloud.store.models import (
    Alert,
    CaregiverLink,
    Device,
    Event,
    Organisation,
    OrganisationRegion,
    OrganisationSenior,
    OrganisationStaff,
    Role,
    Senior,
)
from cloud.store.partitions import ensure_partitions
from protocol import EventType, encode, events_topic, make_envelope
from protocol.events import CountdownOutcome, EmergencyPayload, TriggerSource

RESULTS = Path(__file__).resolve().parent / "results" / "app.json"
TARGET_S = 0.300
PASSWORD = "benchmark password 1"  # noqa: S105  (a throwaway store)
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)


def seed(
    sessions: sessionmaker[Session],
    seniors: int,
    per_agency: int,
    days: int,
    organisations: bool = False,
    daily_days: int = 0,
) -> int:
    """Fill the store; return how many events it holds."""
    passwords = Passwords(PasswordHasher.from_parameters(CHEAPEST))
    with sessions() as s, s.begin():
        worker = create_account(
            s, passwords, username="worker", role=Role.CAREGIVER, password=PASSWORD, now=NOW
        )
        daughter = create_account(
            s, passwords, username="daughter", role=Role.CAREGIVER, password=PASSWORD, now=NOW
        )
        for i in range(seniors):
            sid = f"s{i:05d}"
            region = f"region-{i // per_agency % 7}"
            s.add(
                Senior(
                    id=sid, display_name=f"어르신 {i}", settings={"region": region}, created_at=NOW
                )
            )
        s.flush()
        for i in range(seniors):
            s.add(
                Device(
                    id=f"d{i:05d}",
                    senior_id=f"s{i:05d}",
                    first_seen=NOW,
                    last_seen=NOW,
                    online=i % 9 != 0,
                )
            )
        s.flush()
        if organisations:
            _organise(s, seniors, per_agency, worker.id)
        else:
            for i in range(per_agency):
                s.add(CaregiverLink(account_id=worker.id, senior_id=f"s{i:05d}", relation="worker"))
        s.add(CaregiverLink(account_id=daughter.id, senior_id="s00001", relation="daughter"))
    total = 0
    engine = sessions.kw["bind"]
    copy = engine.dialect.name == "postgresql"
    if copy:  # the months before the migration's own partitions
        with engine.begin() as conn:
            ensure_partitions(conn, NOW - timedelta(days=days + daily_days + 31), 16)
    for first in range(0, seniors, 100):
        rows: list[dict[str, Any]] = []
        for i in range(first, min(first + 100, seniors)):
            rows.extend(_events_of(i, days, daily_days))
        if copy:
            _copy_events(engine, rows)
        else:
            with sessions() as s, s.begin():
                s.execute(insert(Event), rows)
        total += len(rows)
        if first % 2000 == 0:
            print(f"... seeded {first + 100:,} seniors, {total:,} events", flush=True)
    if copy:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    alerts = AlertEngine()
    for i in range(0, seniors, 20):
        device = f"d{i:05d}"
        payload = EmergencyPayload(trigger=TriggerSource.VOICE, countdown=CountdownOutcome.SKIPPED)
        env = make_envelope(device, 10_000_000, payload, event_type=EventType.EMERGENCY, ts=NOW)
        with sessions() as s, s.begin():
            ingest_message(s, events_topic(device), encode(env), NOW, alerts=alerts)
        total += 1
    return total


def _events_of(i: int, days: int, daily_days: int) -> list[dict[str, Any]]:
    """Robot i's events: `daily_days` days of one activity, mood and battery event a day, then
    `days` days of hourly activity and heartbeat (a daily battery and mood among them)."""
    device = f"d{i:05d}"
    rows: list[dict[str, Any]] = []
    seq = 0
    first_day = NOW - timedelta(days=days + daily_days)
    for day in range(daily_days):
        ts = first_day + timedelta(days=day, hours=20)
        day_start = (first_day + timedelta(days=day)).isoformat()
        period = {"period_start": day_start, "period_end": ts.isoformat()}
        minutes = {"walking": 60.0, "rest": 1140.0}
        seq += 1
        rows.append(_event(device, seq, EventType.ACTIVITY, ts, period | {"minutes": minutes}))
        seq += 1
        rows.append(
            _event(device, seq, EventType.BATTERY, ts, {"level_pct": 50.0, "charging": False})
        )
        seq += 1
        rows.append(_event(device, seq, EventType.MOOD, ts, period | _MOOD))
    start = NOW - timedelta(days=days)
    for hour in range(days * 24):
        ts = start + timedelta(hours=hour)
        seq += 1
        period = {
            "period_start": ts.isoformat(),
            "period_end": (ts + timedelta(hours=1)).isoformat(),
        }
        minutes = {"walking": 5.0 if hour % 24 in range(8, 20) else 0.0, "rest": 55.0}
        rows.append(_event(device, seq, EventType.ACTIVITY, ts, period | {"minutes": minutes}))
        seq += 1
        rows.append(
            _event(
                device,
                seq,
                EventType.HEARTBEAT,
                ts,
                {"uptime_s": 3600.0 * hour, "agent_version": "0.2.0", "outbox_pending": 0},
            )
        )
        if hour % 24 == 20:
            seq += 1
            rows.append(
                _event(
                    device,
                    seq,
                    EventType.BATTERY,
                    ts,
                    {"level_pct": 15.0 + (i % 80), "charging": False},
                )
            )
            seq += 1
            rows.append(_event(device, seq, EventType.MOOD, ts, period | _MOOD))
    return rows


_MOOD = {"shares": {"neutral": 1.0}, "valence": 0.1, "arousal": 0.0, "utterances": 3}
_COPY_COLUMNS = "device_id, epoch, seq, type, priority, ts, received_at, payload"


def _copy_events(engine: Any, rows: list[dict[str, Any]]) -> None:
    """PostgreSQL COPY of event rows (text format; the payloads hold no tab, newline or
    backslash), much faster than INSERT for millions of rows."""
    lines = "".join(
        f"{r['device_id']}\t{r['epoch']}\t{r['seq']}\t{r['type']}\t{r['priority']}"
        f"\t{r['ts'].isoformat()}\t{r['received_at'].isoformat()}"
        f"\t{json.dumps(r['payload'], separators=(',', ':'))}\n"
        for r in rows
    )
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur, cur.copy(f"COPY events ({_COPY_COLUMNS}) FROM STDIN") as out:
            out.write(lines)
        raw.commit()
    finally:
        raw.close()


def _organise(s: Session, seniors: int, per_agency: int, worker_id: int) -> None:
    """Organisations of `per_agency` seniors with 7 regions each; the worker on org-000's staff."""
    for first in range(0, seniors, per_agency):
        org_id = f"org-{first // per_agency:03d}"
        s.add(Organisation(id=org_id, name=f"돌봄센터 {first // per_agency}", created_at=NOW))
        s.flush()
        regions = [OrganisationRegion(organisation_id=org_id, name=f"지역 {k}") for k in range(7)]
        s.add_all(regions)
        s.flush()
        for i in range(first, min(first + per_agency, seniors)):
            s.add(
                OrganisationSenior(
                    senior_id=f"s{i:05d}",
                    organisation_id=org_id,
                    region_id=regions[i % 7].id,
                    assigned_at=NOW,
                )
            )
    s.add(OrganisationStaff(account_id=worker_id, organisation_id="org-000", added_at=NOW))


def _event(
    device: str, seq: int, kind: EventType, ts: datetime, payload: dict[str, Any]
) -> dict[str, Any]:
    return {
        "device_id": device,
        "epoch": 0,
        "seq": seq,
        "type": kind.value,
        "priority": "normal",
        "ts": ts,
        "received_at": ts,
        "payload": payload,
        "model": None,
    }


async def measure(
    app: Any, repeat: int, alert_id: int, organisations: bool = False, report: bool = False
) -> dict[str, dict[str, Any]]:
    """Per page: server time percentiles over `repeat` requests (after one warm-up)."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    out: dict[str, dict[str, Any]] = {}
    async with (
        httpx.AsyncClient(transport=transport, base_url="https://app.test") as worker,
        httpx.AsyncClient(transport=transport, base_url="https://app.test") as daughter,
    ):
        for client, name in ((worker, "worker"), (daughter, "daughter")):
            r = await client.post("/auth/login", json={"username": name, "password": PASSWORD})
            r.raise_for_status()
            client.headers["Authorization"] = f"Bearer {r.json()['access_token']}"
        pages = [
            ("board (300 seniors)", worker, "/app/board", {}),
            ("board rows (htmx refresh)", worker, "/app/board", {"HX-Request": "true"}),
            ("board CSV", worker, "/app/board.csv", {}),
            ("my seniors (daughter)", daughter, "/app/", {}),
            ("senior page (daughter)", daughter, "/app/seniors/s00001", {}),
            ("alert page (worker)", worker, f"/app/alerts/{alert_id}", {}),
            ("trends, 30 days (daughter)", daughter, "/app/seniors/s00001/trends?days=30", {}),
            ("care editors (daughter)", daughter, "/app/seniors/s00001/care", {}),
            ("messages (daughter)", daughter, "/app/seniors/s00001/messages", {}),
            *(
                [
                    ("organisation page (worker)", worker, "/app/orgs/org-000", {}),
                    ("daily report, yesterday (worker)", worker, "/app/board/daily", {}),
                    ("daily report CSV (worker)", worker, "/app/board/daily.csv", {}),
                ]
                if organisations
                else []
            ),
            ("baseline: API GET /seniors?limit=300", worker, "/seniors?limit=300", {}),
            ("baseline: API GET /alerts", worker, "/alerts", {}),
        ]
        if report:  # --report: the daily report beside the board, in the same run
            pages = [p for p in pages if p[0].startswith(("board (", "daily report"))]
        for label, client, url, headers in pages:
            times = []
            for i in range(repeat + 1):
                t0 = time.perf_counter()
                r = await client.get(url, headers=headers)
                elapsed = time.perf_counter() - t0
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
                if i:
                    times.append(elapsed)
            out[label] = percentiles(times)
    return out


def _resolve_open(base_url: str, token: str, device_ids: list[str], sessions: Any) -> None:
    """Resolve, through the API, the open alerts of these robots (the next one is new)."""
    with sessions() as s:
        ids = list(
            s.scalars(
                select(Alert.id).where(
                    Alert.device_id.in_(device_ids), Alert.status.in_(OPEN_STATUSES)
                )
            )
        )
    headers = {"Authorization": f"Bearer {token}"}
    for alert_id in ids:
        r = httpx.post(
            f"{base_url}/alerts/{alert_id}/resolve",
            json={"note": "benchmark"},
            headers=headers,
            timeout=30,
        )
        r.raise_for_status()


def _login(base_url: str, username: str) -> str:
    r = httpx.post(
        f"{base_url}/auth/login", json={"username": username, "password": PASSWORD}, timeout=30
    )
    r.raise_for_status()
    token: str = r.json()["access_token"]
    return token


class _Robot:
    """Publishes emergencies to the broker as a robot would (paho-mqtt, QoS 1)."""

    def __init__(self, host: str, port: int) -> None:
        import paho.mqtt.client as mqtt
        from paho.mqtt.enums import CallbackAPIVersion

        self._client = mqtt.Client(
            CallbackAPIVersion.VERSION2,
            client_id=f"bench-app-{uuid.uuid4().hex[:10]}",
            protocol=mqtt.MQTTv5,
        )
        self._client.connect(host, port)
        self._client.loop_start()
        self._seq = int(time.time() * 1000)  # never a key the store holds

    def emergency(self, device: str) -> None:
        self._seq += 1
        payload = EmergencyPayload(trigger=TriggerSource.VOICE, countdown=CountdownOutcome.SKIPPED)
        env = make_envelope(
            device, self._seq, payload, event_type=EventType.EMERGENCY, ts=datetime.now(UTC)
        )
        self._client.publish(events_topic(device), encode(env), qos=1).wait_for_publish(10)

    def close(self) -> None:
        self._client.loop_stop()
        self._client.disconnect()


def live_browser(
    base_url: str, robot: _Robot, sessions: Any, n: int, timeout_s: float = 10.0
) -> dict[str, Any]:
    """Publish -> the daughter's open page shows the emergency, n times (bounded waits)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    token = _login(base_url, "daughter")
    device = "d00001"
    _resolve_open(base_url, token, [device], sessions)
    times: list[float] = []
    missed = 0
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=["--no-sandbox"])
        try:
            page = browser.new_context(base_url=base_url, locale="en-US").new_page()
            page.goto("/app/login")
            page.fill("#username", "daughter")
            page.fill("#password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url("**/app/")
            shown = "#cards >> text=Emergency call"
            for _ in range(n):
                page.wait_for_selector(shown, state="detached", timeout=timeout_s * 1000)
                page.wait_for_timeout(300)  # the stream settled after the last resolve
                t0 = time.perf_counter()
                robot.emergency(device)
                try:
                    page.wait_for_selector(shown, timeout=timeout_s * 1000)
                    times.append(time.perf_counter() - t0)
                except PlaywrightTimeout:
                    missed += 1
                _resolve_open(base_url, token, [device], sessions)
        finally:
            browser.close()
    return {"publish_to_dom": percentiles(times, raw=True), "missed": missed, "sent": n}


def sse_hold(
    base_url: str,
    robot: _Robot,
    sessions: Any,
    clients: int,
    hold_s: float,
    every_s: float,
    visible: list[str],
) -> dict[str, Any]:
    """`clients` SSE clients (another process) held `hold_s`; an emergency every `every_s` on a
    robot the worker sees; every client's alerts counted against those sent."""
    token = _login(base_url, "worker")
    devices = [d for d in visible if int(d[1:]) % 20][: int(hold_s / every_s) + 1]
    _resolve_open(base_url, token, devices, sessions)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "clients.json"
        child = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--sse-child",
                json.dumps({"url": base_url, "token": token, "clients": clients, "out": str(out)}),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout is not None
        ready = json.loads(child.stdout.readline() or "{}")
        sent: dict[str, float] = {}
        started = time.time()
        deadline = time.monotonic() + hold_s
        k = 0
        while time.monotonic() < deadline and k < len(devices):
            robot.emergency(devices[k])
            sent[devices[k]] = time.time()
            k += 1
            time.sleep(max(0.0, min(every_s, deadline - time.monotonic())))
        time.sleep(max(0.0, deadline - time.monotonic()) + 5.0)  # the last one's grace
        assert child.stdin is None
        child.send_signal(signal.SIGINT)
        child.wait(timeout=120)
        received = json.loads(out.read_text())
    with sessions() as s:
        alerts = {
            a.id: a.device_id
            for a in s.scalars(
                select(Alert).where(
                    Alert.device_id.in_(list(sent)), Alert.created_at >= _since(started)
                )
            )
        }
    latencies: list[float] = []
    lost = 0
    complete = 0
    for per_client in received["clients"]:
        got = {int(k): v for k, v in per_client.items()}
        missing = [a for a in alerts if a not in got]
        lost += len(missing)
        complete += not missing
        latencies.extend(got[a] - sent[d] for a, d in alerts.items() if a in got)
    _resolve_open(base_url, token, devices, sessions)
    return {
        "clients": clients,
        "connected": ready.get("connected", 0),
        "hold_s": hold_s,
        "alerts_sent": len(sent),
        "alerts_created": len(alerts),
        "clients_with_every_alert": complete,
        "lost_deliveries": lost,
        "expected_deliveries": len(alerts) * clients,
        "client_errors": received["errors"],
        "publish_to_client": percentiles(latencies),
    }


def _since(epoch_s: float) -> datetime:
    return datetime.fromtimestamp(epoch_s, UTC) - timedelta(seconds=5)


async def _sse_clients(url: str, token: str, n: int) -> dict[str, Any]:
    """The child: n streams; prints {"connected": k} once all are open (or after 120 s), then
    records each alert's first arrival (epoch s) until SIGINT."""
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGINT, stop.set)
    got: list[dict[str, float]] = [{} for _ in range(n)]
    errors: list[str] = []
    opened = 0
    all_open = asyncio.Event()
    limits = httpx.Limits(max_connections=n + 10, max_keepalive_connections=0)
    timeout = httpx.Timeout(60.0, read=None)
    async with httpx.AsyncClient(limits=limits, timeout=timeout) as http:

        async def one(k: int) -> None:
            nonlocal opened
            headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
            try:
                async with http.stream("GET", f"{url}/alerts/stream", headers=headers) as r:
                    r.raise_for_status()
                    opened += 1
                    if opened == n:
                        all_open.set()
                    async for line in r.aiter_lines():
                        if line.startswith("data: "):
                            alert = json.loads(line[6:])
                            got[k].setdefault(str(alert["id"]), time.time())
            except (httpx.HTTPError, OSError) as e:
                errors.append(f"client {k}: {type(e).__name__}: {e}"[:200])

        tasks = [asyncio.create_task(one(k)) for k in range(n)]
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(all_open.wait(), timeout=120)
        print(json.dumps({"connected": opened}), flush=True)
        await stop.wait()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    return {"clients": got, "errors": [*errors[:50], f"{len(errors)} in all"]}


def live_parts(
    url: str, tmp: str, sessions: Any, args: argparse.Namespace, visible: list[str]
) -> dict[str, Any]:
    """The whole cloud on this store: ingest -> browser, then the SSE clients."""
    settings = CloudSettings(
        database_url=url,
        mqtt_host=args.mqtt_host,
        mqtt_port=args.mqtt_port,
        mqtt_share_group=f"bench-{uuid.uuid4().hex[:10]}",
        api_token=SecretStr("bench-token-0123456789"),
        auth_secret=SecretStr("bench-secret-0123456789-0123456789-0123456789"),
        auth_cookie_secure=False,
        http_port=0,
        sweep_interval_s=86_400.0,  # stated in the output: the seeded robots are silent
        data_dir=str(Path(tmp) / "live"),
    )
    out: dict[str, Any] = {"sse_poll_s": settings.sse_poll_s, "inactivity_sweep": "off"}
    svc = CloudService(settings)
    svc.start(mqtt_wait_s=10)
    robot = _Robot(args.mqtt_host, args.mqtt_port)
    try:
        assert svc.worker is not None
        if not svc.worker.wait_subscribed(10):
            raise RuntimeError("the cloud could not subscribe on the broker")
        base = svc.start_api()
        if args.live:
            print(f"... ingest -> browser, {args.live} emergencies", flush=True)
            out["browser"] = live_browser(base, robot, sessions, args.live)
        if args.sse_clients:
            print(f"... {args.sse_clients} SSE clients held {args.sse_hold_s:.0f} s", flush=True)
            out["sse"] = sse_hold(
                base,
                robot,
                sessions,
                args.sse_clients,
                args.sse_hold_s,
                args.sse_every_s,
                visible,
            )
    finally:
        robot.close()
        svc.stop()
    return out


def _loadavg() -> str:
    return Path("/proc/loadavg").read_text().split(" ", 3)[:3].__str__()


def _database(args: argparse.Namespace, tmp: str) -> tuple[str, bool]:
    """The store's URL and whether it must be seeded (a kept PostgreSQL one is reused)."""
    if args.store == "sqlite":
        return f"sqlite:///{tmp}/app.sqlite3", True
    url = f"postgresql+psycopg://postgres@127.0.0.1:5432/{args.database}"
    admin = make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        exists = conn.execute(
            text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": args.database}
        ).first()
        if exists and args.keep:
            admin.dispose()
            return url, False
        conn.execute(text(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)"))
        conn.execute(text(f"CREATE DATABASE {args.database}"))
    admin.dispose()
    return url, True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seniors", type=int, default=1000)
    parser.add_argument("--per-agency", type=int, default=300)
    parser.add_argument("--days", type=int, default=14, help="days of hourly events")
    parser.add_argument("--daily-days", type=int, default=0, help="days of daily events before")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default: results/)")
    parser.add_argument(
        "--organisations",
        action="store_true",
        help="the worker sees its organisation's seniors as staff (no caregiver links)",
    )
    parser.add_argument(
        "--live", type=int, default=None, help="emergencies timed to the browser (--full: 20)"
    )
    parser.add_argument("--sse-clients", type=int, default=None, help="(--full: 1000)")
    parser.add_argument("--sse-hold-s", type=float, default=300.0)
    parser.add_argument("--sse-every-s", type=float, default=10.0)
    parser.add_argument("--mqtt-host", default="127.0.0.1")
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument("--no-pages", action="store_true", help="only the live parts")
    parser.add_argument(
        "--keep",
        action="store_true",
        help="PostgreSQL: keep the seeded database and reuse it when it exists (re-runs)",
    )
    parser.add_argument("--database", default="dolbom_bench_app")
    parser.add_argument("--full", action="store_true", help="the issue's size (see above)")
    parser.add_argument(
        "--report",
        action="store_true",
        help="only the board and the daily report of yesterday (needs --organisations)",
    )
    parser.add_argument("--sse-child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.sse_child:
        spec = json.loads(args.sse_child)
        got = asyncio.run(_sse_clients(spec["url"], spec["token"], spec["clients"]))
        Path(spec["out"]).write_text(json.dumps(got))
        return
    if args.full:
        args.seniors, args.per_agency, args.organisations = 10_000, 300, True
        args.store, args.days, args.daily_days = "postgresql", 2, 365
        args.live = 20 if args.live is None else args.live  # --live 0: only the pages
        args.sse_clients = 1000 if args.sse_clients is None else args.sse_clients
        args.out = args.out or RESULTS.with_name("app_full.json")
    args.live, args.sse_clients = args.live or 0, args.sse_clients or 0
    logging.basicConfig(level=logging.ERROR)
    console = Console()
    load_before = _loadavg()
    pages: dict[str, dict[str, Any]] = {}
    live: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url, fresh = _database(args, tmp)
        migrate(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        t0 = time.perf_counter()
        if fresh:
            seed(
                sessions,
                args.seniors,
                args.per_agency,
                args.days,
                args.organisations,
                args.daily_days,
            )
        seed_s = time.perf_counter() - t0
        with sessions() as s:
            alert_id = int(
                s.execute(
                    select(func.min(Alert.id)).where(Alert.status.in_(OPEN_STATUSES))
                ).scalar_one()
            )
            if args.store == "postgresql":
                events = int(
                    s.execute(
                        text(
                            "SELECT sum(reltuples)::bigint FROM pg_class c JOIN pg_inherits i"
                            " ON i.inhrelid = c.oid WHERE i.inhparent = 'events'::regclass"
                        )
                    ).scalar_one()
                    or s.execute(text("SELECT count(*) FROM events")).scalar_one()
                )
            else:
                events = int(s.execute(text("SELECT count(*) FROM events")).scalar_one())
            visible = sorted(
                s.scalars(
                    select(Device.id)
                    .join(OrganisationSenior, OrganisationSenior.senior_id == Device.senior_id)
                    .where(OrganisationSenior.organisation_id == "org-000")
                )
                if args.organisations
                else [f"d{i:05d}" for i in range(args.per_agency)]
            )
        settings = CloudSettings(
            api_token=SecretStr("bench-token-0123456789"),
            auth_secret=SecretStr("bench-secret-0123456789-0123456789-0123456789"),
            data_dir=str(Path(tmp) / "data"),
        )
        app = create_app(
            settings,
            session_factory=sessions,
            passwords=Passwords(PasswordHasher.from_parameters(CHEAPEST)),
            clock=lambda: NOW,
        )
        load_pages = _loadavg()
        if not args.no_pages:
            print(f"... pages, load {load_pages}", flush=True)
            pages = asyncio.run(
                measure(app, args.repeat, alert_id, args.organisations, args.report)
            )
        if args.live or args.sse_clients:
            live = live_parts(url, tmp, sessions, args, visible)
        engine.dispose()
        if args.store == "postgresql" and not args.keep:  # the throwaway database goes
            admin = make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)"))
            admin.dispose()
    table = Table(
        title=f"app pages, server time in process ({args.store}, {args.seniors:,} seniors,"
        f" {events:,} events{', organisations' if args.organisations else ''}; load {load_pages})"
    )
    for col in ("page", "n", "p50 ms", "p95 ms", "max ms", f"p95 ≤ {TARGET_S * 1000:.0f} ms"):
        table.add_column(col, justify="left" if col == "page" else "right")
    for label, p in pages.items():
        ok = "" if label.startswith("baseline") else ("✓" if p["p95"] <= TARGET_S else "✗ missed")
        table.add_row(
            label,
            str(p["n"]),
            f"{p['p50'] * 1000:.0f}",
            f"{p['p95'] * 1000:.0f}",
            f"{p['max'] * 1000:.0f}",
            ok,
        )
    if pages:
        console.print(table)
    _print_live(console, live)
    result = {
        "benchmark": "app",
        "store": args.store,
        "seniors": args.seniors,
        "per_agency": args.per_agency,
        "organisations": args.organisations,
        "days": args.days,
        "daily_days": args.daily_days,
        "events": events,
        "seed_s": round(seed_s, 1) if fresh else None,
        "target_p95_s": TARGET_S,
        "pages": pages,
        "live": live,
        "stubbed": "nothing; in the live parts the inactivity/offline sweep is off",
        "load": {"before": load_before, "pages": load_pages, "after": _loadavg()},
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
        },
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    out = args.out or (
        RESULTS if args.store == "sqlite" else RESULTS.with_name("app_postgresql.json")
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    console.print(f"wrote {out}")


def _print_live(console: Console, live: dict[str, Any]) -> None:
    if "browser" in live:
        b = live["browser"]
        p = b["publish_to_dom"]
        ok = p["p95"] is not None and p["p95"] <= 1.0 and not b["missed"]
        console.print(
            f"ingest -> open browser (MQTT publish -> chromium DOM, SSE poll"
            f" {live['sse_poll_s']} s): n={p['n']} p50 {_ms(p['p50'])} p95 {_ms(p['p95'])}"
            f" max {_ms(p['max'])}, missed {b['missed']} of {b['sent']}"
            f" {'✓' if ok else '✗ missed'} (target p95 ≤ 1000 ms)"
        )
    if "sse" in live:
        v = live["sse"]
        p = v["publish_to_client"]
        ok = v["connected"] == v["clients"] and v["lost_deliveries"] == 0 and v["alerts_created"]
        console.print(
            f"SSE: {v['connected']:,} of {v['clients']:,} clients held {v['hold_s']:.0f} s,"
            f" {v['alerts_created']} alerts (of {v['alerts_sent']} sent): every alert at"
            f" {v['clients_with_every_alert']:,} clients, {v['lost_deliveries']:,} of"
            f" {v['expected_deliveries']:,} deliveries lost, publish -> client p50"
            f" {_ms(p['p50'])} p95 {_ms(p['p95'])} {'✓' if ok else '✗'}"
        )
        if v["client_errors"][:-1]:
            console.print(f"client errors: {v['client_errors'][:3]}")
    if live:
        console.print("stubbed: nothing; the inactivity/offline sweep is off in the live parts")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.0f} ms"


if __name__ == "__main__":
    main()
