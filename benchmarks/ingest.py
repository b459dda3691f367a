"""Ingest capacity (issue 16): a broker backlog drained into PostgreSQL by 1 and 2 workers.

For every run: a fresh scratch PostgreSQL database (migrated, dropped after); N persistent
MQTT 5 sessions (`dolbom-ingest-...` client ids on one `$share` group, as N `dolbom cloud serve`
workers hold them) created and left offline; the same backlog published at QoS 1 and
acknowledged by the broker while no worker runs; then N worker processes started
(benchmarks/_ingest_worker.py: the production `IngestWorker`) and timed until every event is
in PostgreSQL. Measured: events stored per second (first to last stored row, and from the
workers' start), CPU seconds of each process over the drain (broker, each worker, the
PostgreSQL backends of this database), batch sizes, and per emergency mixed into the backlog
the time from the worker receiving it to its alert committed. Verified by counting rows:
every (device, epoch, seq) once, nothing dead-lettered, one alert per robot that called.

Paths, on the same backlog in the same run: `bulk` (shipped), `batched` (one transaction per
batch, a message at a time: the code before issue 16) and `naive` (one message per
transaction, the baseline). The broker is a private Mosquitto with deploy/mosquitto's queue
limits: the system broker on 127.0.0.1:1883 keeps Mosquitto's default of 1,000 queued messages
per offline session, and would drop most of a backlog (a limit of the box, not of the cloud).
`--profile` adds a cProfile'd bulk run (1 worker) and says where the ingest thread's time goes.
Prints a table and writes benchmarks/results/ingest.json.

`--year` adds a day of data for 10,000 seniors: the store's size per robot per day and the time
of the daily-metrics job (`--paths none --year` measures only that and keeps the drains).

Usage: .venv/bin/python benchmarks/ingest.py [--robots 3000] [--events 30000] [--profile] [--year]
"""

import argparse
import json
import os
import platform
import pstats
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import psutil
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.subscribeoptions import SubscribeOptions
from sqlalchemy import func, select, text

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from benchmarks.chaos import Broker  # noqa: E402
from benchmarks.common import percentiles  # noqa: E402
from cloud.settings import CloudSettings  # noqa: E402
from cloud.store import make_engine, make_session_factory, migrate  # noqa: E402
from cloud.store.models import Alert, DeadLetter, Event  # noqa: E402
from cloud.store.scratch import scratch_database  # noqa: E402
from protocol import EventType, encode, events_topic, make_envelope  # noqa: E402
from protocol.events import (  # noqa: E402
    ActivityPayload,
    BatteryPayload,
    ConversationPayload,
    CountdownOutcome,
    EmergencyPayload,
    HeartbeatPayload,
    SelfTest,
    TouchPayload,
    TriggerSource,
)
from protocol.topics import EVENTS_SUBSCRIPTION, STATUS_SUBSCRIPTION  # noqa: E402

OUT = REPO / "benchmarks" / "results" / "ingest.json"
ADMIN = os.environ.get(
    "DOLBOM_TEST_PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
T0 = datetime(2026, 12, 5, tzinfo=UTC)
DRAIN_TIMEOUT_S = 900.0


def backlog(robots: int, events: int, emergency_share: float, seed: int = 16) -> list[Any]:
    """(topic, payload, type) of a fleet: heartbeats mostly, routine periods, some batteries,
    emergencies; each robot's seqs in order, robots interleaved as a broker would see them."""
    rng = random.Random(seed)
    ids = [f"bench-{i:06d}" for i in range(robots)]
    seqs = dict.fromkeys(ids, 0)
    out: list[Any] = []
    start, end = T0, T0 + timedelta(minutes=15)
    for n in range(events):
        dev = ids[n % robots] if n < robots else rng.choice(ids)
        seqs[dev] += 1
        seq = seqs[dev]
        ts = T0 + timedelta(seconds=seq * 60)
        roll = rng.random()
        payload: Any
        if roll < emergency_share:
            kind = EventType.EMERGENCY
            payload = EmergencyPayload(
                trigger=TriggerSource.BUTTON, countdown=CountdownOutcome.SKIPPED
            )
        elif roll < 0.70:
            kind = EventType.HEARTBEAT
            payload = HeartbeatPayload(
                uptime_s=float(seq * 60),
                agent_version="0.1.0",
                outbox_pending=0,
                self_tests=[SelfTest(name="mic", ok=True), SelfTest(name="imu", ok=True)],
            )
        elif roll < 0.80:
            kind, payload = (
                EventType.TOUCH,
                TouchPayload(period_start=start, period_end=end, pat=rng.randint(0, 3)),
            )
        elif roll < 0.90:
            kind = EventType.ACTIVITY
            payload = ActivityPayload(
                period_start=start, period_end=end, minutes={"still": 10.0, "walking": 5.0}
            )
        elif roll < 0.96:
            kind = EventType.CONVERSATION
            payload = ConversationPayload(
                period_start=start, period_end=end, turns=4, robot_turns=2, talk_minutes=1.5
            )
        else:
            kind, payload = EventType.BATTERY, BatteryPayload(level_pct=80.0, charging=False)
        env = make_envelope(dev, seq, payload, event_type=kind, ts=ts)
        out.append((events_topic(dev), encode(env), kind.value))
    return out


def _client(client_id: str, port: int, *, clean: bool) -> mqtt.Client:
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=client_id, protocol=mqtt.MQTTv5)
    client.max_queued_messages_set(0)  # paho holds what the broker's receive window cannot
    props = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
    props.SessionExpiryInterval = 0 if clean else 3600
    client.connect("127.0.0.1", port, 60, clean_start=True, properties=props)
    return client


def make_sessions(port: int, client_ids: list[str], group: str) -> None:
    """The workers' persistent sessions, subscribed to the shared group, then left offline."""
    for cid in client_ids:
        client = _client(cid, port, clean=False)
        granted = threading.Event()
        client.on_subscribe = lambda *_a, done=granted: done.set()
        client.loop_start()
        client.subscribe(
            [
                (f"$share/{group}/{EVENTS_SUBSCRIPTION}", SubscribeOptions(qos=1)),
                (STATUS_SUBSCRIPTION, SubscribeOptions(qos=1)),
            ]
        )
        if not granted.wait(10):
            raise RuntimeError("subscription not granted")
        client.disconnect()
        client.loop_stop()


def publish(port: int, messages: list[Any]) -> float:
    """Publish at QoS 1 and wait for every PUBACK (the broker holds them); seconds taken."""
    client = _client(f"bench-publisher-{uuid.uuid4().hex[:8]}", port, clean=True)
    client.loop_start()
    start = time.perf_counter()
    infos = [client.publish(topic, raw, qos=1) for topic, raw, _ in messages]
    for info in infos:
        info.wait_for_publish(60)
    took = time.perf_counter() - start
    client.disconnect()
    client.loop_stop()
    return took


def _pg_backends(dbname: str) -> list[psutil.Process]:
    found = []
    for proc in psutil.process_iter(["cmdline"]):
        cmd = " ".join(proc.info["cmdline"] or [])
        if cmd.startswith("postgres:") and f" {dbname} " in cmd:
            found.append(proc)
    return found


class CpuMeter:
    """CPU seconds per process over a window; PostgreSQL backends come and go, so sampled."""

    def __init__(self, dbname: str) -> None:
        self.dbname = dbname
        self.pg: dict[int, float] = {}
        self.pg_first: dict[int, float] = {}

    def sample_pg(self) -> None:
        for proc in _pg_backends(self.dbname):
            try:
                t = proc.cpu_times()
            except psutil.Error:
                continue
            self.pg_first.setdefault(proc.pid, t.user + t.system)
            self.pg[proc.pid] = t.user + t.system

    def pg_seconds(self) -> float:
        return sum(self.pg[p] - self.pg_first[p] for p in self.pg)


def _cpu(proc: psutil.Process) -> float:
    t = proc.cpu_times()
    return float(t.user + t.system)


def run(
    path: str,
    workers: int,
    messages: list[Any],
    broker: Broker,
    work: Path,
    *,
    batch_max: int,
    profile: str = "",
    spy: str = "",
    ref_repo: Path | None = None,
    worker_url_query: str = "",
) -> dict[str, Any]:
    """One drain: fresh database, fresh sessions, the backlog, N workers; figures and checks.

    A path named `ref-<path>` runs the workers of `ref_repo` (another checkout: the code
    before a change) on the same backlog, for an A/B in one run.
    """
    code = REPO
    if path.startswith("ref-"):
        if ref_repo is None:
            raise ValueError(f"{path}: needs --ref-repo")
        code, path = ref_repo, path.removeprefix("ref-")
    expected = len(messages)
    emergencies = [m for m in messages if m[2] == EventType.EMERGENCY.value]
    callers = {m[0] for m in emergencies}
    with scratch_database(ADMIN, "dolbom_bench_ingest") as url:
        dbname = url.rsplit("/", 1)[1]
        migrate(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        group = f"bench{uuid.uuid4().hex[:8]}"
        client_ids = [f"dolbom-ingest-bench-{group}-{k}" for k in range(workers)]
        make_sessions(broker.port, client_ids, group)
        publish_s = publish(broker.port, messages)
        assert broker.proc is not None
        broker_ps = psutil.Process(broker.proc.pid)
        env = {
            **os.environ,
            "DOLBOM_DATABASE_URL": url + worker_url_query,
            "DOLBOM_MQTT_HOST": "127.0.0.1",
            "DOLBOM_MQTT_PORT": str(broker.port),
            "DOLBOM_MQTT_SESSION": "persistent",
            "DOLBOM_MQTT_SHARE_GROUP": group,
            "DOLBOM_INGEST_BATCH_MAX": "1" if path == "naive" else str(batch_max),
            "PYTHONPATH": str(code),
        }
        meter = CpuMeter(dbname)
        broker_cpu0 = _cpu(broker_ps)
        procs = []
        start = time.monotonic()
        for k, cid in enumerate(client_ids):
            cmd = [sys.executable, "-m", "benchmarks._ingest_worker", "--path", path]
            cmd += ["--out", str(work / f"{group}-{k}.json")]
            if profile:
                cmd += ["--profile", profile]
            procs.append(
                subprocess.Popen(
                    cmd,
                    cwd=code,
                    env=env | {"DOLBOM_MQTT_CLIENT_ID": cid},
                    stdout=subprocess.PIPE,
                    stderr=(work / f"{group}-{k}.log").open("wb"),
                )
            )
        worker_ps = [psutil.Process(p.pid) for p in procs]
        spies = [_spy(p.pid, f"{spy}-{k}.txt") for k, p in enumerate(procs)] if spy else []
        stored = 0
        worker_cpu = [0.0] * workers
        while stored < expected:
            if time.monotonic() - start > DRAIN_TIMEOUT_S:
                break
            time.sleep(0.5)
            meter.sample_pg()
            worker_cpu = [_cpu(p) for p in worker_ps]
            with sessions() as s:
                stored = s.scalar(select(func.count()).select_from(Event)) or 0
                stored += s.scalar(select(func.count()).select_from(DeadLetter)) or 0
        drained_s = time.monotonic() - start
        meter.sample_pg()
        broker_cpu = _cpu(broker_ps) - broker_cpu0
        for spy_proc in spies:
            spy_proc.send_signal(signal.SIGINT)  # py-spy writes its samples on SIGINT
        for spy_proc in spies:
            spy_proc.wait(60)
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(60)
        stats = [json.loads((work / f"{group}-{k}.json").read_text()) for k in range(workers)]
        logs = [(work / f"{group}-{k}.log").read_text(errors="replace") for k in range(workers)]
        reconnects = sum(text_.count("MQTT disconnected") for text_ in logs)
        with sessions() as s:
            rows = s.scalar(select(func.count()).select_from(Event)) or 0
            keys = s.scalar(
                text("SELECT count(*) FROM (SELECT DISTINCT device_id, epoch, seq FROM events) k")
            )
            dead = s.scalar(select(func.count()).select_from(DeadLetter)) or 0
            first, last = s.execute(select(func.min(Event.id), func.max(Event.id))).one()
            span = s.execute(
                text("SELECT extract(epoch FROM max(received_at) - min(received_at)) FROM events")
            ).scalar()
            alerts = s.execute(
                select(func.count(), func.coalesce(func.sum(Alert.repeat_count), 0)).where(
                    Alert.kind == "emergency"
                )
            ).one()
            size = s.scalar(text("SELECT pg_total_relation_size('events')"))
        engine.dispose()
    critical = [x for st in stats for x in st["critical_s"]]
    parts = [x for st in stats for x in st.get("critical_parts", [])]
    batches = [b for st in stats for b in st["batch_sizes"] if b]
    span_s = float(span or 0.0)
    return {
        "path": path if code == REPO else f"ref-{path}",
        "code": str(code),
        "worker_url_query": worker_url_query,
        "workers": workers,
        "batch_max": 1 if path == "naive" else batch_max,
        "events": expected,
        "publish_s": round(publish_s, 2),
        "drained_s": round(drained_s, 2),
        "stored_span_s": round(span_s, 2),
        "events_per_s": round(rows / span_s, 1) if span_s else None,
        "events_per_s_from_start": round(rows / drained_s, 1),
        "cpu_s": {
            "broker": round(broker_cpu, 2),
            "workers": [round(c, 2) for c in worker_cpu],
            "postgres_backends": round(meter.pg_seconds(), 2),
        },
        # CPU per 1,000 events stored: what the rate would be on cores of our own, less moved
        # by the other jobs on a shared box than the rate itself
        "cpu_s_per_1000_events": {
            "workers": round(sum(worker_cpu) * 1000 / max(rows, 1), 3),
            "postgres_backends": round(meter.pg_seconds() * 1000 / max(rows, 1), 3),
            "broker": round(broker_cpu * 1000 / max(rows, 1), 3),
        },
        "thread_cpu_s": [st.get("thread_cpu_s") for st in stats],
        "broker_disconnects": reconnects,
        "batch_size_mean": round(sum(batches) / len(batches), 1) if batches else 0,
        "alert_from_receipt_s": percentiles(critical),
        # where an emergency's time goes: receipt -> its store began, store began -> committed
        "alert_waiting_s": percentiles([w for w, _ in parts]),
        "alert_storing_s": percentiles([o for _, o in parts]),
        "check": {
            "stored_rows": rows,
            "distinct_keys": keys,
            "lost": expected - rows,
            "duplicates": rows - (keys or 0),
            "dead_letters": dead,
            "ids_span": (last or 0) - (first or 0) + 1,
            "emergencies": len(emergencies),
            "emergency_alerts": alerts[0],
            "robots_that_called": len(callers),
            "emergency_repeats_counted": int(alerts[1]),
        },
        "events_table_bytes_per_event": round((size or 0) / max(rows, 1), 1),
    }


def _spy(pid: int, out: str) -> subprocess.Popen[bytes]:
    """py-spy sampling a worker (on-CPU samples only, per thread, 100 Hz) into `out` (raw)."""
    exe = shutil.which("py-spy", path=str(Path(sys.executable).parent)) or "py-spy"
    cmd = [exe, "record", "--pid", str(pid), "--format", "raw", "--threads", "--nonblocking"]
    return subprocess.Popen(
        [*cmd, "--rate", "100", "--output", out],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


# Areas of the sampled leaf frame (the function on CPU), by its file.
_SPY_AREAS = {
    "sqlalchemy": "sqlalchemy",
    "psycopg (driver)": "psycopg",
    "paho (MQTT)": "paho",
    "pydantic (validation)": "pydantic",
    "json": "json/",
    "cloud.ingest": "cloud/ingest",
    "cloud.alerts": "cloud/alerts",
    "protocol (decode)": "protocol/",
    "threading, queue": "threading",
}


def spy_summary(files: list[Path]) -> dict[str, Any]:
    """On-CPU samples of py-spy's raw files: share by thread, by area of the leaf frame, and
    the leaf functions and the benchmark-relevant callers that hold the most samples."""
    by_thread: dict[str, int] = {}
    by_area: dict[str, dict[str, int]] = {}
    leaves: dict[str, int] = {}
    total = 0
    for file in files:
        if not file.exists():
            continue
        for line in file.read_text(errors="replace").splitlines():
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count = int(count_text)
            frames = stack.split(";")
            thread = frames[0]
            kind = "ingest" if any("_loop (cloud/ingest" in f for f in frames) else "other"
            if kind == "other" and any("_thread_main (paho" in f for f in frames):
                kind = "network (paho)"
            leaf = frames[-1]
            area = next((a for a, key in _SPY_AREAS.items() if key in leaf), "other")
            total += count
            by_thread[kind] = by_thread.get(kind, 0) + count
            areas = by_area.setdefault(kind, {})
            areas[area] = areas.get(area, 0) + count
            leaves[leaf] = leaves.get(leaf, 0) + count
            del thread
    if not total:
        return {}
    return {
        "samples": total,
        "share_by_thread": {k: round(v / total, 3) for k, v in by_thread.items()},
        "share_by_area": {
            kind: {
                a: round(v / total, 3)
                for a, v in sorted(areas.items(), key=lambda kv: -kv[1])
                if v / total >= 0.005
            }
            for kind, areas in by_area.items()
        },
        "top_leaves": [
            {"where": k, "share": round(v / total, 3)}
            for k, v in sorted(leaves.items(), key=lambda kv: -kv[1])[:15]
        ],
    }


def where_time_goes(prefix: str) -> dict[str, Any]:
    """Own time of the profiled threads by area (module path), and the top functions."""
    areas = {
        "sqlalchemy": "sqlalchemy",
        "psycopg (driver)": "psycopg",
        "paho (MQTT)": "paho",
        "pydantic (validation)": "pydantic",
        "json": "json",
        "cloud.ingest": "cloud/ingest",
        "cloud.alerts": "cloud/alerts",
        "protocol (decode)": "protocol/",
        "threading": "threading",
    }
    out: dict[str, Any] = {}
    for part in ("ingest", "net"):
        file = Path(f"{prefix}.{part}")
        if not file.exists():
            continue
        st = pstats.Stats(str(file))
        raw: dict[Any, Any] = st.stats  # type: ignore[attr-defined]
        total = sum(v[2] for v in raw.values()) or 1.0
        by: dict[str, float] = {}
        for (filename, _line, _name), v in raw.items():
            area = next((a for a, key in areas.items() if key in filename), "other")
            if "acquire" in _name or "select.select" in _name or "Condition.wait" in _name:
                area = "idle (locks, queue, socket select)"
            elif "psycopg" in filename and _name in ("wait", "wait_c"):
                area = "waiting for PostgreSQL"
            by[area] = by.get(area, 0.0) + v[2]
        top = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:8]
        out[part] = {
            "own_time_s": round(total, 2),
            "share_by_area": {
                k: round(v / total, 3) for k, v in sorted(by.items(), key=lambda kv: -kv[1])
            },
            "top_functions": [
                {"where": f"{Path(k[0]).name}:{k[1]} {k[2]}", "own_s": round(v[2], 3)}
                for k, v in top
            ],
        }
    return out


def year_of_data(seniors: int, fast_robots: int) -> dict[str, Any]:
    """Store size per robot per day and the daily-metrics job for `seniors` (PostgreSQL).

    Reuses benchmarks/research.py's cohort and event generator (generated inside PostgreSQL
    through the real `events` table and its indexes): every senior a study participant with
    a robot and a day of 40 events (24 hourly heartbeats, mood, activity, conversation, touch,
    reminders); the day's metrics (`compute_day`, the job run once a day) timed for all of
    them. Then `fast_robots` of them send a heartbeat every 60 s (the device default) for a
    second day: the size per robot per day at that rate (a sample: 1,440 rows per robot).
    """
    from benchmarks import research  # the research benchmark's cohort and generator, reused
    from cloud.ingest.rollup import roll_up_stored
    from cloud.research.metrics import compute_day
    from cloud.store.partitions import RetentionPolicy, maintain

    def size(conn: Any) -> int:
        """events with its partitions and indexes, and the heartbeats' hourly roll-up."""
        return int(
            conn.scalar(
                text(
                    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c"
                    " WHERE c.relkind = 'r' AND (c.relname = 'heartbeat_hours'"
                    " OR c.relname LIKE 'events\\_%' OR c.relname = 'events')"
                )
            )
            or 0
        )

    with scratch_database(ADMIN, "dolbom_bench_year") as url:
        migrate(url)
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        research.seed_cohort(sessions, seniors)
        with engine.begin() as conn:
            empty = size(conn)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.execute(text("SELECT setseed(0.16)"))
            day = {"p0": 0, "p1": seniors - 1, "d0": 0, "d1": 0, "t0": research.T0}
            conn.execute(text(research._EVENTS_SQL), day)
            # Generated straight into events: roll the heartbeats up as ingest would have.
            roll_up_stored(conn, research.T0 - timedelta(days=1), research.T0 + timedelta(days=1))
        generate_s = time.perf_counter() - started
        with engine.begin() as conn:
            conn.execute(text("ANALYZE events"))
            conn.execute(text("ANALYZE heartbeat_hours"))
            day_rows = int(conn.scalar(text("SELECT count(*) FROM events")) or 0)
            one_day = size(conn) - empty
        times = []
        for _ in range(3):
            started = time.perf_counter()
            with sessions() as s, s.begin():
                metric_rows = compute_day(
                    s, research.STUDY, research.DAY0, research.T0 + timedelta(days=1)
                )
            times.append(time.perf_counter() - started)
        with engine.begin() as conn:
            before = size(conn)
            # `fast_robots` beating every 60 s on day 1, seqs right after the research day's 40
            # (a robot's seqs are contiguous, as ingest stores them: retention's settled floor
            # covers them)
            conn.execute(
                text(research._HEARTBEATS_SQL),
                {"p0": 0, "p1": fast_robots - 1, "d": 1, "t0": research.T0, "seq0": 41},
            )
            day1 = research.T0 + timedelta(days=1)
            roll_up_stored(conn, day1, day1 + timedelta(days=1))
            conn.execute(text("ANALYZE events"))
            conn.execute(text("ANALYZE heartbeat_hours"))
            fast = size(conn) - before
            hourly = int(conn.scalar(text("SELECT pg_total_relation_size('heartbeat_hours')")) or 0)
        # The daily metrics of that day: the fast robots beat every 60 s (1,440 rows each).
        fast_times = []
        for _ in range(3):
            started = time.perf_counter()
            with sessions() as s, s.begin():
                compute_day(
                    s,
                    research.STUDY,
                    research.DAY0 + timedelta(days=1),
                    research.T0 + timedelta(days=2),
                )
            fast_times.append(time.perf_counter() - started)
        # The nightly retention three days later: heartbeat rows go (3 days by default), their
        # hours stay; VACUUM FULL so the size is what the store keeps from these two days.
        # The study is closed first: an open study holds its robots' events (research data are
        # kept under the study's own rules), and every robot here is a participant's.
        with engine.begin() as conn:
            conn.execute(text("UPDATE studies SET closed = true"))
        started = time.perf_counter()
        done = maintain(engine, research.T0 + timedelta(days=5), RetentionPolicy())
        retention_s = time.perf_counter() - started
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM FULL events"))
            conn.execute(text("VACUUM FULL heartbeat_hours"))
            kept = size(conn) - empty
            left = int(conn.scalar(text("SELECT count(*) FROM events")) or 0)
        engine.dispose()
    return {
        "seniors": seniors,
        "events_per_robot_day": day_rows / seniors,
        "generate_s": round(generate_s, 1),
        "bytes_per_robot_day_hourly_heartbeats": round(one_day / seniors),
        "bytes_per_robot_day_60s_heartbeats": round(one_day / seniors + fast / fast_robots),
        "heartbeat_rows_60s_sample_robots": fast_robots,
        "bytes_per_event": round(one_day / max(day_rows, 1), 1),
        "daily_metrics_s": [round(t, 2) for t in times],
        "daily_metrics_60s_heartbeats_day_s": [round(t, 2) for t in fast_times],
        "heartbeat_hours_bytes": hourly,
        "daily_metric_rows": metric_rows,
        "retention": {
            "policy": "heartbeat rows 3 days (default), roll-up kept, the study closed",
            "run_s": round(retention_s, 2),
            "floors_raised": done.floors_raised,
            "rows_deleted": done.deleted_rows,
            "rows_left": left,
            "bytes_kept_after_vacuum": kept,
            "bytes_kept_per_robot_day": round(kept / (seniors + fast_robots)),
            "robot_days": f"{seniors} research-mix days + {fast_robots} days of 60-s heartbeats",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--robots", type=int, default=3000)
    parser.add_argument("--events", type=int, default=30_000)
    parser.add_argument("--emergency-share", type=float, default=0.005)
    parser.add_argument("--paths", default="naive:1,batched:1,bulk:1,bulk:2")
    parser.add_argument("--profile", action="store_true")
    parser.add_argument(
        "--spy",
        default="",
        help="also drain with these paths' workers sampled by py-spy (e.g. bulk:1,bulk:2; "
        "py-spy in the venv, not a dependency): on-CPU samples by thread and area",
    )
    parser.add_argument(
        "--year",
        action="store_true",
        help="also measure the store's size per robot per day and the daily-metrics job",
    )
    parser.add_argument("--year-seniors", type=int, default=10_000)
    parser.add_argument("--year-fast-robots", type=int, default=1_000)
    parser.add_argument(
        "--batch-max",
        type=int,
        default=CloudSettings().ingest_batch_max,
        help="DOLBOM_INGEST_BATCH_MAX",
    )
    parser.add_argument(
        "--ref-repo",
        type=Path,
        default=None,
        help="another checkout (e.g. `git archive` of the commit before a change) whose workers "
        "run the paths named ref-<path> (e.g. --paths ref-bulk:1,bulk:1): an A/B in one run",
    )
    parser.add_argument(
        "--worker-url-query",
        default="",
        help="appended to the workers' database URL (e.g. '?prepare_threshold=none': psycopg "
        "without server-side prepared statements)",
    )
    parser.add_argument("--out", type=Path, default=OUT, help="the results file (JSON)")
    args = parser.parse_args()
    out: Path = args.out.resolve()
    if not 1 <= args.robots <= args.events <= 1_000_000:
        parser.error("need 1 <= robots <= events <= 1,000,000")
    messages = backlog(args.robots, args.events, args.emergency_share)
    runs: list[dict[str, Any]] = []
    profile: dict[str, Any] = {}
    sampled: dict[str, Any] = {}
    specs = [] if args.paths == "none" else args.paths.split(",")
    with tempfile.TemporaryDirectory(prefix="dolbom-bench-ingest-") as tmp:
        work = Path(tmp)
        broker = Broker(work)
        broker.start()
        try:
            for spec in specs:
                path, n = spec.split(":")
                print(f"... {path} with {n} worker(s)", flush=True)
                runs.append(
                    run(
                        path,
                        int(n),
                        messages,
                        broker,
                        work,
                        batch_max=args.batch_max,
                        ref_repo=args.ref_repo,
                        worker_url_query=args.worker_url_query,
                    )
                )
            if args.profile:
                print("... bulk with 1 worker under cProfile", flush=True)
                prefix = str(work / "prof")
                runs.append(
                    run("bulk", 1, messages, broker, work, batch_max=args.batch_max, profile=prefix)
                    | {"profiled": True}
                )
                profile = where_time_goes(prefix)
            for spec in [s for s in args.spy.split(",") if s]:
                path, n = spec.split(":")
                print(f"... {path} with {n} worker(s) sampled by py-spy", flush=True)
                prefix = str(work / f"spy-{path}-{n}")
                runs.append(
                    run(path, int(n), messages, broker, work, batch_max=args.batch_max, spy=prefix)
                    | {"sampled": True}
                )
                sampled[spec] = spy_summary([Path(f"{prefix}-{k}.txt") for k in range(int(n))])
        finally:
            broker.stop()
    year: dict[str, Any] = {}
    if args.year:
        print(f"... a day of data for {args.year_seniors:,} seniors", flush=True)
        year = year_of_data(args.year_seniors, args.year_fast_robots)
    previous = json.loads(out.read_text(encoding="utf-8")) if out.exists() else {}
    if not runs:  # only the year measured: keep the drains of the last run
        runs, profile = previous.get("runs", []), previous.get("profile", {})
    year = year or previous.get("year", {})
    naive = next((r for r in runs if r["path"] == "naive"), None)
    print(
        f"\nIngest drain: {args.events:,} events from {args.robots:,} robots "
        f"({args.emergency_share:.1%} emergencies), PostgreSQL, {os.cpu_count()} CPUs (shared)"
    )
    head = f"{'path':<9}{'workers':>8}{'events/s':>10}{'x naive':>9}{'drain s':>9}"
    head += f"{'cpu broker':>11}{'cpu workers':>13}{'cpu pg':>8}{'batch':>7}{'alert p95 ms':>13}"
    head += f"{'wait/store p95':>16}{'lost':>6}{'dup':>5}{'cpu s/1k: workers':>19}{'pg':>6}"
    print(head)
    for r in runs:
        ratio = (
            f"{r['events_per_s'] / naive['events_per_s']:.1f}"
            if naive and naive["events_per_s"] and r["events_per_s"]
            else "-"
        )
        p95 = r["alert_from_receipt_s"]["p95"]
        parts = (r.get(k) or {} for k in ("alert_waiting_s", "alert_storing_s"))
        split = "/".join(f"{part.get('p95') or 0:.3f}" for part in parts)
        name = r["path"] + ("*" if r.get("profiled") else "+" if r.get("sampled") else "")
        print(
            f"{name:<9}{r['workers']:>8}{r['events_per_s'] or 0:>10,.0f}{ratio:>9}"
            f"{r['drained_s']:>9.1f}{r['cpu_s']['broker']:>11.1f}"
            f"{'+'.join(f'{c:.1f}' for c in r['cpu_s']['workers']):>13}"
            f"{r['cpu_s']['postgres_backends']:>8.1f}{r['batch_size_mean']:>7.0f}"
            f"{(p95 or 0) * 1000:>13.0f}{split:>16}"
            f"{r['check']['lost']:>6}{r['check']['duplicates']:>5}"
            f"{r['cpu_s_per_1000_events']['workers']:>19.3f}"
            f"{r['cpu_s_per_1000_events']['postgres_backends']:>6.3f}"
        )
    if profile:
        print("\n* profiled run (cProfile slows it; not a capacity figure). Own time by area:")
        for part, p in profile.items():
            shares = ", ".join(f"{k} {v:.0%}" for k, v in list(p["share_by_area"].items())[:6])
            print(f"  {part} thread ({p['own_time_s']} s): {shares}")
    for spec, summary in sampled.items():
        if not summary:
            continue
        print(f"\n+ {spec} sampled by py-spy ({summary['samples']:,} on-CPU samples):")
        for kind, areas in summary["share_by_area"].items():
            shares = ", ".join(f"{k} {v:.0%}" for k, v in list(areas.items())[:7])
            print(f"  {kind} thread {summary['share_by_thread'][kind]:.0%}: {shares}")
        for leaf in summary["top_leaves"][:8]:
            print(f"    {leaf['share']:6.1%}  {leaf['where']}")
    if year:
        print(
            f"\nA day of data ({year['seniors']:,} seniors, research mix of"
            f" {year['events_per_robot_day']:.0f} events per robot-day):"
            f" {year['bytes_per_robot_day_hourly_heartbeats'] / 1024:.1f} KiB per robot-day with"
            f" hourly heartbeats, {year['bytes_per_robot_day_60s_heartbeats'] / 1024:.0f} KiB"
            f" with a heartbeat every 60 s (sampled on {year['heartbeat_rows_60s_sample_robots']:,}"
            f" robots); daily metrics for all: {year['daily_metrics_s']} s; for the day the"
            f" sample beat every 60 s: {year.get('daily_metrics_60s_heartbeats_day_s')} s;"
            f" heartbeat_hours {year.get('heartbeat_hours_bytes', 0) / 1024 / 1024:.1f} MiB"
        )
        kept = year.get("retention")
        if kept:
            print(
                f"Retention 3 days later ({kept['policy']}): {kept['run_s']} s,"
                f" {kept['rows_deleted']:,} rows deleted, {kept['rows_left']:,} left;"
                f" {kept['bytes_kept_after_vacuum'] / 1024 / 1024:.1f} MiB kept"
                f" ({kept['bytes_kept_per_robot_day'] / 1024:.1f} KiB per robot-day)"
            )
    result = {
        "benchmark": "ingest",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "backlog": {
            "events": args.events,
            "robots": args.robots,
            "emergency_share": args.emergency_share,
            "mix": "70% heartbeat, 10% touch, 10% activity, 6% conversation, 4% battery, "
            "emergencies drawn first",
        },
        "broker": "private Mosquitto with deploy/mosquitto limits (max_queued_messages 120000)",
        "alert_latency": "worker receipt (paho hands the message over) to its alert committed",
        "runs": runs,
        "profile": profile,
        "py_spy": sampled,
        "year": year,
    }
    out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
