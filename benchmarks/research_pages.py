"""Server time of the researcher's pages (issue 15) on a loaded study.

A SQLite file store holds one two-arm study of `--participants` seniors (a robot each, all
streams consented), enrolled `--days` days ago, with a daily-metric row per participant and
day and the scheduled assessments (SGDS-K and UCLA-3 at baseline, week 4 and week 8, each
with a 90 % chance of being there when due; a one-year follow-up is left for the import).
Requests go to the real app in-process (httpx over ASGI: routing, templates, store; no
network), each page `--repeat` times after one
warm-up: the studies list, the study page (completeness and a metric chart per arm; two
metrics), a participant's page (the coordinator's, with the identity), the export's
disclosure report (k = 5, building the export as the download would). Once each, not
repeated (they change the store or are slow by design): the CSV import of one assessment per
participant, and the study report (2,000 bootstrap resamples). Nothing is stubbed.
Prints a table and writes benchmarks/results/research_pages.json.
Usage: .venv/bin/python benchmarks/research_pages.py [--participants 200] [--days 120]
"""

import argparse
import asyncio
import json
import logging
import platform
import random
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
from sqlalchemy import insert
from sqlalchemy.orm import Session, sessionmaker

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import percentiles
from cloud.accounts import Passwords, create_account
from cloud.accounts.access import SERVICE
from cloud.api import create_app
from cloud.research.studies import (
    TimePointSpec,
    create_study,
    enrol,
    publish_consent_form,
    set_consent,
)
from cloud.settings import CloudSettings
from cloud.store import make_engine, make_session_factory, migrate
from cloud.store.models import (
    Assessment,
    AssessmentSource,
    DailyMetric,
    Device,
    Role,
    Senior,
)
from protocol.consent import DataStream

RESULTS = Path(__file__).resolve().parent / "results" / "research_pages.json"
PASSWORD = "bench password 123"  # noqa: S105  (test accounts of a throw-away store)
STUDY = "bench"
NOW = datetime(2026, 12, 5, 3, 0, tzinfo=UTC)
SCHEDULE = (("baseline", 0), ("week4", 28), ("week8", 56))


def seed(sessions: sessionmaker[Session], participants: int, days: int) -> list[str]:
    """The study, its participants, metrics and assessments; the participant codes."""
    rng = random.Random(20261205)
    enrolled = NOW - timedelta(days=days)
    streams = {s.value: True for s in DataStream}
    passwords = Passwords(PasswordHasher.from_parameters(CHEAPEST))
    codes: list[str] = []
    with sessions() as s, s.begin():
        for username, role in (("rita", Role.RESEARCHER), ("cora", Role.COORDINATOR)):
            create_account(s, passwords, username=username, role=role, password=PASSWORD, now=NOW)
        create_study(
            s,
            SERVICE,
            enrolled,
            study_id=STUDY,
            title="Benchmark study",
            schedule=[
                *(TimePointSpec(label, day, ("sgds_k", "ucla3")) for label, day in SCHEDULE),
                TimePointSpec("followup", 365, ("sgds_k",)),  # filled by the timed import
            ],
        )
        publish_consent_form(s, SERVICE, enrolled, study_id=STUDY, version="v1", streams=streams)
        ids: list[int] = []
        for i in range(participants):
            senior, device = f"s{i:05d}", f"d{i:05d}"
            s.add(Senior(id=senior, display_name=f"어르신{i}", settings={}, created_at=enrolled))
            s.flush()
            s.add(Device(id=device, senior_id=senior, first_seen=enrolled, last_seen=NOW))
            s.flush()
            p = enrol(
                s,
                SERVICE,
                enrolled,
                study_id=STUDY,
                senior_id=senior,
                arm="intervention" if i % 2 == 0 else "control",
                device_id=device,
                birth_year=1940 + i % 10,
                sex="f" if i % 3 else "m",
                region="서울특별시 종로구",
            )
            set_consent(s, SERVICE, enrolled, participant=p, form_version="v1", streams=streams)
            codes.append(p.code)
            ids.append(p.id)
        metrics = [
            {
                "participant_id": pid,
                "day": (enrolled + timedelta(days=d)).date(),
                "talk_minutes": rng.uniform(0, 60),
                "turns": rng.randint(0, 80),
                "touches": rng.randint(0, 10),
                "mood_valence": rng.uniform(-1, 1),
                "present_minutes": rng.uniform(0, 900),
                "reminder_adherence": rng.uniform(0, 1),
                "device_up_hours": 24,
                "hours_with_data": rng.randint(0, 16),
                "events": 50,
                "model_versions": {},
                "computed_at": NOW,
            }
            for pid in ids
            for d in range(days)
        ]
        for start in range(0, len(metrics), 5000):
            s.execute(insert(DailyMetric), metrics[start : start + 5000])
        assessments: list[dict[str, Any]] = [
            {
                "participant_id": pid,
                "instrument": instrument,
                "time_point": label,
                "answers": [],
                "score": float(rng.randint(3, 9)),
                "complete": False,
                "prorated": False,
                "band": None,
                "flags": [],
                "source": AssessmentSource.IMPORT,
                "administered_at": enrolled + timedelta(days=day, hours=3),
                "recorded_at": NOW,
            }
            for pid in ids
            for label, day in SCHEDULE
            if day + 7 < days and rng.random() < 0.9
            for instrument in ("sgds_k", "ucla3")
        ]
        if assessments:
            s.execute(insert(Assessment), assessments)
    return codes


async def _login(client: httpx.AsyncClient, username: str) -> None:
    r = await client.post("/auth/login", json={"username": username, "password": PASSWORD})
    r.raise_for_status()  # the session cookie stays in the client


async def measure(app: Any, repeat: int, codes: list[str]) -> dict[str, dict[str, Any]]:
    """Per page: server time percentiles over `repeat` requests (after one warm-up)."""
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    out: dict[str, dict[str, Any]] = {}
    base = f"/app/research/studies/{STUDY}"
    async with (
        httpx.AsyncClient(transport=transport, base_url="https://app.test") as rita,
        httpx.AsyncClient(transport=transport, base_url="https://app.test") as cora,
    ):
        await _login(rita, "rita")
        await _login(cora, "cora")
        pages = [
            ("studies list", rita, "/app/research"),
            ("study page, talk minutes", rita, base),
            ("study page, mood", rita, f"{base}?metric=mood_valence"),
            ("participant page (coordinator)", cora, f"{base}/participants/{codes[0]}"),
            ("export: disclosure report, k=5", rita, f"{base}/export?k=5"),
        ]
        for label, client, url in pages:
            times = []
            for i in range(repeat + 1):
                t0 = time.perf_counter()
                r = await client.get(url)
                elapsed = time.perf_counter() - t0
                if r.status_code != 200:
                    raise RuntimeError(f"{url}: {r.status_code} {r.text[:300]}")
                if i:
                    times.append(elapsed)
            out[label] = percentiles(times)
        page = await cora.get(f"{base}/import")
        token = page.text.split('name="csrf" value="')[1].split('"')[0]
        visit = (NOW - timedelta(days=1)).date().isoformat()
        rows = "".join(f"{c},sgds_k,{visit},followup,,,,,,,,,,,,,,,,4,paper form\n" for c in codes)
        header = "participant,instrument,visit_date,time_point," + ",".join(
            f"item_{n}" for n in range(1, 16)
        )
        data = (header + ",total,total_reason\n" + rows).encode()
        t0 = time.perf_counter()
        r = await cora.post(
            f"{base}/import", data={"csrf": token}, files={"file": ("v.csv", data, "text/csv")}
        )
        elapsed = time.perf_counter() - t0
        if r.status_code != 200:
            raise RuntimeError(f"import: {r.status_code} {r.text[-600:]}")
        out[f"CSV import, {len(codes)} rows (once)"] = percentiles([elapsed])
        t0 = time.perf_counter()
        r = await rita.get(f"{base}/report")
        elapsed = time.perf_counter() - t0
        if r.status_code != 200:
            raise RuntimeError(f"report: {r.status_code}")
        out["study report (once)"] = percentiles([elapsed])
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--participants", type=int, default=200)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.sqlite3'}"
        migrate(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        t0 = time.perf_counter()
        codes = seed(sessions, args.participants, args.days)
        seeded_s = time.perf_counter() - t0
        settings = CloudSettings.model_validate(
            {
                "api_token": SecretStr("bench-token-0123456789"),
                "auth_secret": SecretStr("bench-auth-secret-0123456789abcdef-0123456789"),
                "data_dir": str(Path(tmp) / "data"),
            }
        )
        app = create_app(
            settings,
            session_factory=sessions,
            publisher=None,
            mqtt_connected=lambda: True,
            clock=lambda: NOW,
            passwords=Passwords(PasswordHasher.from_parameters(CHEAPEST)),
        )
        pages = asyncio.run(measure(app, args.repeat, codes))
        engine.dispose()
    table = Table(title=f"research pages: {args.participants} participants, {args.days} days")
    for col in ("page", "n", "p50 ms", "p95 ms", "max ms"):
        table.add_column(col, justify="left" if col == "page" else "right")
    for label, p in pages.items():
        table.add_row(
            label,
            str(p["n"]),
            f"{p['p50'] * 1000:.0f}",
            f"{p['p95'] * 1000:.0f}",
            f"{p['max'] * 1000:.0f}",
        )
    Console().print(table)
    result = {
        "benchmark": "research_pages",
        "store": "sqlite",
        "participants": args.participants,
        "days": args.days,
        "daily_metric_rows": args.participants * args.days,
        "repeat": args.repeat,
        "seed_s": round(seeded_s, 1),
        "stubbed": "nothing (in-process ASGI, no network)",
        "python": platform.python_version(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "pages": pages,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
