"""Server time of the admin and installer pages on a large fleet (issue 15).

The store (a SQLite file, or PostgreSQL with --store postgresql) holds `--robots` robots, each
with a senior, `--days` days of events (an hourly heartbeat, a daily battery level, and
`--model-events` events a day carrying a model reference: fall 2.0.0, or 3.0.0 on half the
robots in the last day), `--accounts` accounts, and one rollout of fall 3.0.0 to every robot
(the API's `model_rollout` audit rows). Requests go to the real app in-process (httpx over ASGI:
routing, templates, store; no network), each page `--repeat` times after one warm-up, signed
in as an admin: the accounts page, the robots page (the first 500 robots with their health and
model versions), the rollouts page (progress of the rollout over every robot and the fleet's
versions), and the provisioning form. Nothing is stubbed; provisioning itself (mosquitto_passwd)
is not timed. Prints a table and writes benchmarks/results/admin.json.
Usage: .venv/bin/python benchmarks/admin.py [--robots 10000] [--days 2] [--store sqlite]
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
from cloud.api import create_app
from cloud.settings import CloudSettings
from cloud.store import make_engine, make_session_factory, migrate
from cloud.store.models import Account, AuditLog, Device, Event, Role, Senior

PASSWORD = "benchmark password 1"  # noqa: S105 (a throwaway store's login)
NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
RESULTS = Path(__file__).resolve().parent / "results"
PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
PG_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/dolbom_bench_admin"


def seed(
    factory: sessionmaker[Session],
    passwords: Passwords,
    robots: int,
    days: int,
    model_events: int,
    accounts: int,
) -> int:
    """Fill the store; the number of events written."""
    with factory() as s, s.begin():
        create_account(s, passwords, username="admin", role=Role.ADMIN, password=PASSWORD, now=NOW)
        for i in range(accounts - 1):
            s.execute(
                insert(Account),
                {
                    "username": f"user{i:05d}",
                    "password_hash": "x",
                    "role": Role.CAREGIVER.value,
                    "display_name": f"사용자 {i}",
                    "disabled": False,
                    "created_at": NOW,
                    "token_version": 0,
                },
            )
    written = 0
    start = NOW - timedelta(days=days)
    for chunk in range(0, robots, 500):
        ids = range(chunk, min(robots, chunk + 500))
        seniors = [
            {"id": f"s{i:05d}", "display_name": f"어르신 {i}", "created_at": NOW, "settings": {}}
            for i in ids
        ]
        devices = [
            {
                "id": f"robot-{i:05d}",
                "senior_id": f"s{i:05d}",
                "first_seen": start,
                "last_seen": NOW,
                "online": i % 17 != 0,
                "last_heartbeat_at": NOW - timedelta(minutes=i % 60),
                "last_heartbeat": {
                    "uptime_s": 3600.0,
                    "agent_version": "0.9.0",
                    "outbox_pending": 0,
                    "failed_self_tests": ["mic"] if i % 23 == 0 else [],
                },
            }
            for i in ids
        ]
        events: list[dict[str, Any]] = []
        for i in ids:
            device = f"robot-{i:05d}"
            seq = 0
            for hour in range(days * 24):
                ts = start + timedelta(hours=hour)
                seq += 1
                events.append(_event(device, seq, "heartbeat", ts, {"uptime_s": 1.0}, None))
            for day in range(days):
                seq += 1
                ts = start + timedelta(days=day, hours=9)
                events.append(_event(device, seq, "battery", ts, {"level_pct": 50.0}, None))
                for k in range(model_events):
                    seq += 1
                    ts = start + timedelta(days=day, minutes=(k + 1) * 1440 // (model_events + 1))
                    version = "3.0.0" if day == days - 1 and i % 2 == 0 else "2.0.0"
                    events.append(
                        _event(
                            device,
                            seq,
                            "fall",
                            ts,
                            {"confidence": 0.1, "countdown": "cancelled"},
                            {"name": "fall", "version": version},
                        )
                    )
        rollout = [
            {
                "at": NOW - timedelta(days=1),
                "actor": "service",
                "action": "model_rollout",
                "resource": "device",
                "resource_id": f"robot-{i:05d}",
                "detail": f"fall 3.0.0 (mr-{i:024x})",
            }
            for i in ids
        ]
        with factory() as s, s.begin():
            s.execute(insert(Senior), seniors)
            s.execute(insert(Device), devices)
            s.execute(insert(Event), events)
            s.execute(insert(AuditLog), rollout)
        written += len(events)
    return written


def _event(
    device: str,
    seq: int,
    kind: str,
    ts: datetime,
    payload: dict[str, Any],
    model: dict[str, str] | None,
) -> dict[str, Any]:
    return {
        "device_id": device,
        "epoch": 0,
        "seq": seq,
        "type": kind,
        "priority": "normal",
        "ts": ts,
        "received_at": ts,
        "payload": payload,
        "model": model,
    }


async def measure(app: Any, repeat: int) -> dict[str, dict[str, Any]]:
    """Per page: server time percentiles over `repeat` requests (after one warm-up)."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    out: dict[str, dict[str, Any]] = {}
    async with httpx.AsyncClient(transport=transport, base_url="https://app.test") as admin:
        r = await admin.post("/auth/login", json={"username": "admin", "password": PASSWORD})
        r.raise_for_status()
        pages = [
            ("accounts", "/app/admin/accounts"),
            ("robots (first 500)", "/app/admin/robots"),
            ("rollouts (all robots)", "/app/admin/rollouts"),
            ("provisioning form", "/app/admin/provision"),
        ]
        for label, url in pages:
            times = []
            for i in range(repeat + 1):
                t0 = time.perf_counter()
                r = await admin.get(url)
                elapsed = time.perf_counter() - t0
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:200]}")
                if i:
                    times.append(elapsed)
            out[label] = percentiles(times)
    return out


def _database(then: str | None) -> None:
    """Drop the benchmark's PostgreSQL database, then create it again when `then` says so."""
    admin = make_engine(PG_ADMIN)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("DROP DATABASE IF EXISTS dolbom_bench_admin"))
        if then:
            conn.execute(text("CREATE DATABASE dolbom_bench_admin"))
    admin.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=2)
    parser.add_argument("--model-events", type=int, default=6)
    parser.add_argument("--accounts", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--store", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="dolbom-admin-bench-") as tmp:
        if args.store == "sqlite":
            url = f"sqlite:///{Path(tmp) / 'admin.sqlite3'}"
        else:
            url = PG_URL
            _database("CREATE")
        migrate(url)
        engine = make_engine(url)
        factory = make_session_factory(engine)
        passwords = Passwords(PasswordHasher.from_parameters(CHEAPEST))
        t0 = time.perf_counter()
        events = seed(factory, passwords, args.robots, args.days, args.model_events, args.accounts)
        seed_s = time.perf_counter() - t0
        settings = CloudSettings.model_validate(
            {
                "api_token": SecretStr("bench-token-0123456789"),
                "auth_secret": SecretStr("bench-auth-secret-0123456789abcdef-0123"),
                "data_dir": str(Path(tmp) / "data"),
            }
        )
        app = create_app(
            settings,
            session_factory=factory,
            publisher=None,
            mqtt_connected=lambda: True,
            clock=lambda: NOW,
            passwords=passwords,
        )
        pages = asyncio.run(measure(app, args.repeat))
        engine.dispose()
        if args.store == "postgresql":  # the throwaway database goes
            _database(None)
    table = Table(title=f"admin pages, {args.robots} robots, {events} events ({args.store})")
    for col in ("page", "p50 ms", "p95 ms", "max ms"):
        table.add_column(col)
    for label, p in pages.items():
        table.add_row(
            label, f"{p['p50'] * 1e3:.0f}", f"{p['p95'] * 1e3:.0f}", f"{p['max'] * 1e3:.0f}"
        )
    Console().print(table)
    result = {
        "benchmark": "admin",
        "stubbed": "nothing (provisioning, which runs mosquitto_passwd, is not timed)",
        "store": args.store,
        "robots": args.robots,
        "days": args.days,
        "model_events_per_day": args.model_events,
        "accounts": args.accounts,
        "events": events,
        "seed_s": round(seed_s, 1),
        "repeat": args.repeat,
        "pages_s": pages,
        "machine": platform.platform(),
        "python": platform.python_version(),
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    RESULTS.mkdir(exist_ok=True)
    out = args.out or RESULTS / (
        "admin.json" if args.store == "sqlite" else "admin_postgresql.json"
    )
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
