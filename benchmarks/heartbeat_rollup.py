"""The daily-metrics uptime probe before and after the heartbeat roll-up (issue 16), A/B in one run.

A day of heartbeats every 60 s for N robots (benchmarks/research.py's cohort and generator,
in PostgreSQL, 1,440 rows per robot), rolled up into heartbeat_hours as ingest would have. Then
the uptime query of `compute_day` ("which local hours of the day had a heartbeat?", one probe
per robot and hour) timed both ways, alternating so the load of the shared box hits both alike:
`events` (the probe before: the heartbeat rows, by (device_id, type, ts)) and `heartbeat_hours`
(the roll-up). Both must give the same hours. The job itself no longer runs either SQL probe: it
reads each robot's roll-up rows of the day by primary key and finds the local hours in Python
(`cloud.research.metrics.up_hours_of`); the hours table below is the probe as it was.
Nothing is stubbed; the events are generated, not sent through MQTT. Prints a table and
writes benchmarks/results/heartbeat_rollup.json.

Usage: .venv/bin/python benchmarks/heartbeat_rollup.py [--robots 1000] [--repeats 5]
"""

import argparse
import json
import os
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import exists, literal, select, text, true, union_all

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import research
from cloud.ingest.rollup import roll_up_stored
from cloud.store.db import make_engine, make_session_factory
from cloud.store.migrate import migrate
from cloud.store.models import Device, Event, HeartbeatHour
from cloud.store.scratch import scratch_database
from cloud.store.types import UTCDateTime
from protocol import EventType

OUT = Path(__file__).resolve().parent / "results" / "heartbeat_rollup.json"
ADMIN = os.environ.get(
    "DOLBOM_TEST_PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)


def _hours_table(start: datetime, end: datetime) -> Any:
    """The window's hours as rows (h, lo, hi, lo_h): 23-25 of them, built in SQL from literals."""
    rows = []
    h, lo = 0, start
    while lo < end:
        hi = min(lo + timedelta(hours=1), end)
        lo_h = lo.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
        rows.append(
            select(
                literal(h).label("h"),
                literal(lo, UTCDateTime()).label("lo"),
                literal(hi, UTCDateTime()).label("hi"),
                # the UTC hour `lo` falls in: the first heartbeat_hours row that can overlap
                literal(lo_h, UTCDateTime()).label("lo_h"),
            )
        )
        h, lo = h + 1, hi
    return union_all(*rows).cte("hours")


def _probe(start: datetime, end: datetime, rolled: bool) -> Any:
    hours = _hours_table(start, end)
    if rolled:
        cond = exists().where(
            HeartbeatHour.device_id == Device.id,
            HeartbeatHour.hour >= hours.c.lo_h,
            HeartbeatHour.hour < hours.c.hi,
            HeartbeatHour.last_ts >= hours.c.lo,
            HeartbeatHour.first_ts < hours.c.hi,
        )
    else:
        cond = exists().where(
            Event.device_id == Device.id,
            Event.type == EventType.HEARTBEAT.value,
            Event.ts >= hours.c.lo,
            Event.ts < hours.c.hi,
        )
    return (
        select(Device.id, hours.c.h)
        .select_from(Device.__table__.join(hours, true()))
        .where(Device.id.like("bench-%"), cond)
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--robots", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    with scratch_database(ADMIN, "dolbom_bench_rollup") as url:
        migrate(url)
        engine = make_engine(url)
        research.seed_cohort(make_session_factory(engine), args.robots)
        t0 = research.T0
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(
                text(research._HEARTBEATS_SQL),
                {"p0": 0, "p1": args.robots - 1, "d": 0, "t0": t0, "seq0": 100000},
            )
        generate_s = time.perf_counter() - started
        started = time.perf_counter()
        with engine.begin() as conn:
            roll_up_stored(conn, t0 - timedelta(days=1), t0 + timedelta(days=2))
        rollup_s = time.perf_counter() - started
        with engine.begin() as conn:
            conn.execute(text("ANALYZE events"))
            conn.execute(text("ANALYZE heartbeat_hours"))
        start, end = t0, t0 + timedelta(days=1)  # the generated day: 1 January in Seoul
        times: dict[str, list[float]] = {"events": [], "heartbeat_hours": []}
        answers: dict[str, set[tuple[str, int]]] = {}
        for _ in range(args.repeats):
            for name, rolled in (("events", False), ("heartbeat_hours", True)):
                started = time.perf_counter()
                with engine.connect() as conn:
                    rows = conn.execute(_probe(start, end, rolled)).all()
                times[name].append(time.perf_counter() - started)
                answers[name] = {(d, int(h)) for d, h in rows}
        engine.dispose()
    assert answers["events"] == answers["heartbeat_hours"], "the two probes disagree"
    assert answers["events"], "no hour found: the window misses the generated day"
    load = os.getloadavg()[0]
    result = {
        "benchmark": "heartbeat_rollup",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "robots": args.robots,
        "heartbeat_rows": args.robots * 1440,
        "robot_hours_up": len(answers["events"]),
        "generate_s": round(generate_s, 1),
        "roll_up_stored_s": round(rollup_s, 1),
        "uptime_probe_s": {k: [round(t, 3) for t in v] for k, v in times.items()},
        "load_average_1m_at_end": round(load, 1),
        "stubbed": "nothing; heartbeats generated in PostgreSQL, not sent through MQTT",
    }
    OUT.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    rows_n = args.robots * 1440
    print(f"{args.robots:,} robots, a heartbeat every 60 s ({rows_n:,} rows), load {load:.1f}")
    print("| uptime probe reads | median s | runs |")
    print("|---|---|---|")
    for name, ts in times.items():
        print(f"| {name} | {sorted(ts)[len(ts) // 2]:.3f} | {', '.join(f'{t:.3f}' for t in ts)} |")
    print(f"same hours both ways: {len(answers['events']):,} robot-hours; wrote {OUT}")


if __name__ == "__main__":
    main()
