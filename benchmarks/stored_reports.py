"""What does a stored report cost the cloud? (issue 14 item 2b: no scan of a device's history)

On a fresh PostgreSQL database (dropped afterwards): one device with N stored events in one
epoch. Measured with `StoredPublisher.report()` (the code the ingest worker runs, publishing
stubbed out):
- cold: the first report after a worker start (no cached watermark): index-only counts;
- cold with a hole: one seq missing in the middle (an ordered index scan to the hole);
- steady: with the watermark cached, after 10 more events were stored (the common case);
- steady behind a hole: the missing seq keeps the watermark back, 1,000 events above it.
Prints a table and writes benchmarks/results/stored_reports.json.
Usage: .venv/bin/python benchmarks/stored_reports.py [--events 100000] [--repeat 20]
"""

import argparse
import json
import os
import platform
import statistics
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert

from cloud.ingest.stored import StoredPublisher
from cloud.store import make_engine, make_session_factory, migrate
from cloud.store.models import Device, Event
from cloud.store.scratch import scratch_database

ADMIN = os.environ.get(
    "DOLBOM_TEST_PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
OUT = Path(__file__).resolve().parent / "results" / "stored_reports.json"
NOW = datetime(2026, 12, 5, tzinfo=UTC)


def _rows(device: str, seqs: range | list[int]) -> list[dict[str, Any]]:
    return [
        {
            "device_id": device,
            "epoch": 7,
            "seq": s,
            "type": "heartbeat",
            "priority": "low",
            "ts": NOW,
            "received_at": NOW,
            "payload": {"uptime_s": s},
            "model": None,
        }
        for s in seqs
    ]


def _ms(fn: Any, repeat: int) -> dict[str, float]:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return {"median_ms": round(statistics.median(times), 2), "max_ms": round(max(times), 2)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    n = args.events
    results: dict[str, Any] = {}
    with scratch_database(ADMIN, "dolbom_bench_stored") as url:
        migrate(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        with sessions() as s, s.begin():
            for dev in ("full", "holey"):
                s.add(Device(id=dev, first_seen=NOW, last_seen=NOW, online=True))
            s.flush()
            for start in range(1, n + 1, 10_000):
                chunk = range(start, min(start + 10_000, n + 1))
                s.execute(insert(Event), _rows("full", chunk))
                s.execute(insert(Event), _rows("holey", [x for x in chunk if x != n // 2]))
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE events")

        def report(dev: str, pub: StoredPublisher | None = None) -> Any:
            p = pub or StoredPublisher(sessions, lambda t, b: None)
            with sessions() as s:
                return p.report(s, dev, 7)

        results["cold"] = _ms(lambda: report("full"), args.repeat)
        results["cold_with_a_hole"] = _ms(lambda: report("holey"), args.repeat)
        warm = StoredPublisher(sessions, lambda t, b: None)
        warm.flush([("full", 7)])
        next_seq = [n + 1]

        def steady() -> None:
            with sessions() as s, s.begin():
                s.execute(insert(Event), _rows("full", range(next_seq[0], next_seq[0] + 10)))
            next_seq[0] += 10
            warm.flush([("full", 7)])

        results["steady_10_new_events"] = _ms(steady, args.repeat)
        # Behind a hole: 1,000 events above the missing seq, the watermark stuck below it.
        with sessions() as s, s.begin():
            s.add(Device(id="stuck", first_seen=NOW, last_seen=NOW, online=True))
            s.flush()
            s.execute(insert(Event), _rows("stuck", [x for x in range(1, 2002) if x != 1001]))
        stuck = StoredPublisher(sessions, lambda t, b: None)
        stuck.flush([("stuck", 7)])
        results["steady_behind_a_hole_1000_above"] = _ms(
            lambda: stuck.flush([("stuck", 7)]), args.repeat
        )
        results["check"] = {
            "full": report("full").report.stored_up_to,
            "holey": [report("holey").report.stored_up_to, report("holey").report.missing],
        }
        engine.dispose()
    doc = {
        "benchmark": "stored_reports",
        "events_per_device": n,
        "repeat": args.repeat,
        "store": "postgresql (fresh scratch database)",
        "host": platform.node(),
        "cpu_count": os.cpu_count(),
        "results": results,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"stored report cost, one device with {n:,} events (PostgreSQL)")
    print(f"{'case':36} {'median ms':>10} {'max ms':>10}")
    for case, r in results.items():
        if case != "check":
            print(f"{case:36} {r['median_ms']:>10} {r['max_ms']:>10}")
    print(f"check: {results['check']}")
    print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
