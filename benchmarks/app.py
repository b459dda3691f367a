"""Server time of the caregivers' app's pages on a loaded store (issue 15, first slice).

The store (SQLite file, or PostgreSQL with --store postgresql) holds `--seniors` seniors with one
robot each and `--days` days of events per robot (hourly activity and heartbeat, a daily mood
and battery event); every 20th senior has an open emergency, raised through the real ingest
and alert engine. An agency worker is linked to `--per-agency` of them, a daughter to one.
Requests go to the real app in-process (httpx over ASGI: routing, templates, store; no
network), each page `--repeat` times after one warm-up:
- the triage board (HTML and its htmx rows) and its CSV, for the worker;
- "my seniors" and a senior's page (status line, open alerts, 50 events), for the daughter;
- an alert page, for the worker.
Baseline in the same run: the API's JSON `GET /seniors?limit=300` and `GET /alerts` for the
same worker (no status line computed). Target (issue 15): p95 <= 300 ms per page.
`--organisations`: the seniors belong to organisations of `--per-agency` each (7 regions
each) and the worker sees theirs as its staff, with no caregiver link (also times the
organisation's page, 300 seniors).
Prints a table and writes benchmarks/results/app.json.
Usage: .venv/bin/python benchmarks/app.py [--seniors 1000] [--per-agency 300] [--days 14]
"""

import argparse
import asyncio
import json
import logging
import platform
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import insert, text
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import percentiles
from cloud.accounts import Passwords, create_account
from cloud.alerts import AlertEngine
from cloud.api import create_app
from cloud.ingest import ingest_message
from cloud.settings import CloudSettings
from cloud.store import make_engine, make_session_factory, migrate
from cloud.store.models import (
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
    start = NOW - timedelta(days=days)
    for i in range(seniors):
        device = f"d{i:05d}"
        rows: list[dict[str, Any]] = []
        seq = 0
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
                rows.append(
                    _event(
                        device,
                        seq,
                        EventType.MOOD,
                        ts,
                        period
                        | {
                            "shares": {"neutral": 1.0},
                            "valence": 0.1,
                            "arousal": 0.0,
                            "utterances": 3,
                        },
                    )
                )
        with sessions() as s, s.begin():
            s.execute(insert(Event), rows)
        total += len(rows)
    engine = AlertEngine()
    for i in range(0, seniors, 20):
        device = f"d{i:05d}"
        payload = EmergencyPayload(trigger=TriggerSource.VOICE, countdown=CountdownOutcome.SKIPPED)
        env = make_envelope(device, 10_000_000, payload, event_type=EventType.EMERGENCY, ts=NOW)
        with sessions() as s, s.begin():
            ingest_message(s, events_topic(device), encode(env), NOW, alerts=engine)
        total += 1
    return total


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
    app: Any, repeat: int, alert_id: int, organisations: bool = False
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
                [("organisation page (worker)", worker, "/app/orgs/org-000", {})]
                if organisations
                else []
            ),
            ("baseline: API GET /seniors?limit=300", worker, "/seniors?limit=300", {}),
            ("baseline: API GET /alerts", worker, "/alerts", {}),
        ]
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seniors", type=int, default=1000)
    parser.add_argument("--per-agency", type=int, default=300)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--store", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--out", type=Path, default=None, help="JSON path (default: results/)")
    parser.add_argument(
        "--organisations",
        action="store_true",
        help="the worker sees its organisation's seniors as staff (no caregiver links)",
    )
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        if args.store == "sqlite":
            url = f"sqlite:///{tmp}/app.sqlite3"
        else:
            url = "postgresql+psycopg://postgres@127.0.0.1:5432/dolbom_bench_app"
            admin = make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("DROP DATABASE IF EXISTS dolbom_bench_app"))
                conn.execute(text("CREATE DATABASE dolbom_bench_app"))
            admin.dispose()
        migrate(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        t0 = time.perf_counter()
        events = seed(sessions, args.seniors, args.per_agency, args.days, args.organisations)
        seed_s = time.perf_counter() - t0
        with sessions() as s:
            alert_id = int(s.execute(text("SELECT min(id) FROM alerts")).scalar_one())
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
        pages = asyncio.run(measure(app, args.repeat, alert_id, args.organisations))
        engine.dispose()
        if args.store == "postgresql":  # the throwaway database goes
            admin = make_engine("postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
            with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("DROP DATABASE IF EXISTS dolbom_bench_app"))
            admin.dispose()
    table = Table(
        title=f"app pages, server time in process ({args.store}, {args.seniors} seniors,"
        f" {events:,} events{', organisations' if args.organisations else ''})"
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
    console.print(table)
    result = {
        "benchmark": "app",
        "store": args.store,
        "seniors": args.seniors,
        "per_agency": args.per_agency,
        "organisations": args.organisations,
        "days": args.days,
        "events": events,
        "seed_s": round(seed_s, 1),
        "target_p95_s": TARGET_S,
        "pages": pages,
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


if __name__ == "__main__":
    main()
