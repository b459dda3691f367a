"""How fast does an emergency become a caregiver's webhook while a fleet reports in the background?

The production path minus the robot: the real Mosquitto at 127.0.0.1:1883 (MQTT 5, the cloud
on a shared subscription with a group of its own), the cloud in this process (CloudService:
ingest, alert engine, webhook dispatcher; no API), a signed-webhook receiver in this process.
The store is seeded with 1,000 open alerts; a load generator publishes heartbeat, mood and
touch events for 5,000 devices (per-device seq) at a bounded rate; then N emergencies from
fresh device ids are sent at a fixed interval, and each one's webhook is awaited.

Measured per store (SQLite file, then a fresh PostgreSQL database dropped afterwards):
- ingest → webhook: from paho handing the emergency to the ingest worker (the cloud has the
  message in hand; its in-process queue and batch wait count) to the receiver having the
  webhook: the issue's latency;
- publish → webhook: from the benchmark's publish call, so the broker and any ingest backlog
  count too; p50/p95/max of both, misses counted apart, and the steps between.
Prints a table and writes benchmarks/results/alerts.json.
Usage: .venv/bin/python benchmarks/alerts.py [--emergencies 100] [--rates 100,200] [--stores sqlite]
"""

import argparse
import json
import logging
import os
import platform
import secrets
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion, MQTTProtocolVersion
from pydantic import SecretStr
from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import percentiles
from cloud.ingest import IngestOutcome, Received
from cloud.service import CloudService
from cloud.settings import CloudSettings
from cloud.store.db import make_engine, make_session_factory
from cloud.store.migrate import migrate
from cloud.store.models import Alert, AlertKind, AlertStatus, Device, Event, Severity
from cloud.store.scratch import ScratchDatabaseError, scratch_database
from dolbom.webhook_receiver import WebhookReceiver
from protocol import EventType, Priority, encode, events_topic, make_envelope
from protocol.events import (
    CountdownOutcome,
    EmergencyPayload,
    HeartbeatPayload,
    MoodPayload,
    TouchPayload,
    TriggerSource,
)

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results" / "alerts.json"
PG_ADMIN_URL = os.environ.get(
    "DOLBOM_BENCH_PG_ADMIN_URL",
    os.environ.get(
        "DOLBOM_TEST_PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
    ),
)
TARGET_P95_S = 0.200
_CONNECT_TIMEOUT_S = 10.0

console = Console(highlight=False, width=None if sys.stdout.isatty() else 140)


class BenchError(Exception):
    """The benchmark could not run; the message says why."""


def _client(host: str, port: int, name: str) -> paho.Client:
    client = paho.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"bench-alerts-{name}-{uuid.uuid4().hex[:8]}",
        protocol=MQTTProtocolVersion.MQTTv5,
    )
    client.max_inflight_messages_set(200)
    connected = threading.Event()
    client.on_connect = lambda c, u, f, rc, p: connected.set() if not rc.is_failure else None
    try:
        client.connect(host, port, keepalive=30)
    except OSError as e:
        raise BenchError(f"Mosquitto is not reachable at {host}:{port}: {e}") from None
    client.loop_start()
    if not connected.wait(_CONNECT_TIMEOUT_S):
        client.loop_stop()
        raise BenchError(f"Mosquitto at {host}:{port} did not accept an MQTT 5 connection")
    return client


# -- the background fleet -------------------------------------------------------------------
class Fleet(threading.Thread):
    """Publishes heartbeat / mood / touch events for `devices` ids at `rate` msg/s, bounded."""

    def __init__(self, host: str, port: int, devices: list[str], rate: float, max_s: float) -> None:
        super().__init__(name="bench-fleet", daemon=True)
        self.devices, self.rate, self.max_s = devices, rate, max_s
        self.max_messages = int(rate * max_s)
        self.client = _client(host, port, "fleet")
        self.seq = dict.fromkeys(devices, 0)
        self.published = 0
        self.started_at = 0.0
        self.ended_at = 0.0
        self._halt = threading.Event()

    def _envelope(self, device_id: str, n: int) -> bytes:
        self.seq[device_id] += 1
        seq, now = self.seq[device_id], datetime.now(UTC)
        start = now - timedelta(minutes=10)
        kind = n % 10
        if kind < 6:
            payload: Any = HeartbeatPayload(
                uptime_s=seq * 60, agent_version="bench", outbox_pending=0
            )
            event_type = EventType.HEARTBEAT
        elif kind < 8:
            payload = MoodPayload(
                period_start=start,
                period_end=now,
                shares={"neutral": 0.7, "happy": 0.3},
                valence=0.2,
                arousal=0.1,
                utterances=4,
            )
            event_type = EventType.MOOD
        else:
            payload = TouchPayload(period_start=start, period_end=now, hug=1, pat=2)
            event_type = EventType.TOUCH
        env = make_envelope(device_id, seq, payload, event_type=event_type, ts=now)
        return encode(env)

    def run(self) -> None:
        self.started_at = time.monotonic()
        period = 1.0 / self.rate
        deadline = self.started_at + self.max_s
        n = 0
        while not self._halt.is_set() and n < self.max_messages:
            due = self.started_at + n * period
            now = time.monotonic()
            if now >= deadline:
                break
            if due > now:
                self._halt.wait(due - now)
                continue
            device_id = self.devices[n % len(self.devices)]
            self.client.publish(events_topic(device_id), self._envelope(device_id, n), qos=1)
            n += 1
            self.published = n
        self.ended_at = time.monotonic()

    def stop(self) -> None:
        """Stop publishing, wait for the thread, disconnect."""
        self._halt.set()
        self.join(10)
        self.client.disconnect()
        self.client.loop_stop()

    @property
    def achieved_rate(self) -> float:
        """Messages per second actually published."""
        span = (self.ended_at or time.monotonic()) - self.started_at
        return self.published / span if span > 0 else 0.0


# -- the ingest probe -----------------------------------------------------------------------
@dataclass
class Probe:
    """When ingest received and committed each watched device's message, and how much it did."""

    watch_prefix: str
    fleet_prefix: str
    entered: dict[str, float] = field(default_factory=dict)
    left: dict[str, float] = field(default_factory=dict)
    handled: int = 0
    fleet_handled: int = 0
    batches: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def install(self, service: CloudService) -> None:
        """Wrap the running worker's `handle_batch` (its ingest thread calls it per batch)."""
        worker = service.worker
        if worker is None:
            raise BenchError("the cloud's ingest worker did not start")
        original = worker.handle_batch

        def handle_batch(
            batch: Sequence[Received], *, yield_to: Callable[[], bool] | None = None
        ) -> list[IngestOutcome | None]:
            outcomes = original(batch, yield_to=yield_to)
            left = time.monotonic()
            with self.lock:
                self.batches += 1
                for received, outcome in zip(batch, outcomes, strict=True):
                    if outcome is None:
                        continue  # not stored yet (the batch yielded to a critical one)
                    self.handled += 1
                    device_id = received.message.device_id
                    if device_id is None:
                        continue
                    if device_id.startswith(self.fleet_prefix):
                        self.fleet_handled += 1
                    if device_id.startswith(self.watch_prefix) and device_id not in self.entered:
                        self.entered[device_id] = received.received_s
                        self.left[device_id] = left
            return outcomes

        worker.handle_batch = handle_batch  # type: ignore[method-assign]


# -- one store ------------------------------------------------------------------------------
@dataclass
class Emergency:
    """One emergency's instants (monotonic s); webhook None is a miss."""

    device_id: str
    published: float
    ingest_entered: float | None = None
    ingest_left: float | None = None
    webhook: float | None = None
    signature_ok: bool | None = None

    def record(self) -> dict[str, Any]:
        """Times relative to publish, in seconds."""

        def rel(t: float | None) -> float | None:
            return None if t is None else round(t - self.published, 5)

        return {
            "device_id": self.device_id,
            "ingest_entered_s": rel(self.ingest_entered),
            "ingest_left_s": rel(self.ingest_left),
            "webhook_s": rel(self.webhook),
            "signature_ok": self.signature_ok,
        }


@contextmanager
def fresh_database(kind: str, workdir: Path) -> Iterator[str]:
    """A new SQLite file, or a new PostgreSQL database dropped on exit; yield its URL."""
    if kind == "sqlite":
        yield f"sqlite:///{workdir / 'alerts.sqlite3'}"
        return
    try:
        with scratch_database(PG_ADMIN_URL, "dolbom_bench") as url:
            yield url
    except ScratchDatabaseError as e:
        raise BenchError(
            f"{e} (start it with `make services`, or set DOLBOM_BENCH_PG_ADMIN_URL)"
        ) from None


def seed(database_url: str, fleet: list[str], open_alerts: int) -> None:
    """Register the fleet and open `open_alerts` emergency alerts on its first devices."""
    migrate(database_url)
    engine = make_engine(database_url)
    now = datetime.now(UTC)
    try:
        with make_session_factory(engine)() as session, session.begin():
            session.add_all(Device(id=d, first_seen=now, last_seen=now, online=True) for d in fleet)
            session.flush()
            session.add_all(
                Alert(
                    device_id=d,
                    kind=AlertKind.EMERGENCY,
                    severity=Severity.CRITICAL,
                    status=AlertStatus.OPEN,
                    event_seq=0,
                    created_at=now,
                    updated_at=now,
                    repeat_count=1,
                    revision=1,
                )
                for d in fleet[:open_alerts]
            )
    finally:
        engine.dispose()


def counts(database_url: str) -> dict[str, int]:
    """How many events, devices and open alerts the store holds."""
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            return {
                "events": session.scalar(select(func.count()).select_from(Event)) or 0,
                "devices": session.scalar(select(func.count()).select_from(Device)) or 0,
                "active_alerts": session.scalar(
                    select(func.count())
                    .select_from(Alert)
                    .where(Alert.status.in_([AlertStatus.OPEN, AlertStatus.NOTIFIED]))
                )
                or 0,
            }
    finally:
        engine.dispose()


def run_config(kind: str, rate: float, args: argparse.Namespace) -> dict[str, Any]:
    """Seed, start the cloud and the fleet, send the emergencies, collect the times."""
    run_id = uuid.uuid4().hex[:6]
    fleet_prefix = f"bench-{run_id}-fleet-"
    fleet_ids = [f"{fleet_prefix}{i:04d}" for i in range(args.devices)]
    sos_prefix = f"bench-{run_id}-sos-"
    label = f"{kind} @ {rate:.0f}/s"
    secret = secrets.token_urlsafe(16)
    with (
        tempfile.TemporaryDirectory(prefix="dolbom-bench-alerts-") as tmp,
        fresh_database(kind, Path(tmp)) as url,
    ):
        console.print(
            f"\\[{label}] seeding {args.devices} devices and {args.open_alerts} open alerts…"
        )
        t0 = time.monotonic()
        seed(url, fleet_ids, args.open_alerts)
        seed_s = time.monotonic() - t0
        receiver = WebhookReceiver(secret).start()
        settings = CloudSettings(
            database_url=url,
            mqtt_host=args.mqtt_host,
            mqtt_port=args.mqtt_port,
            mqtt_protocol="5",
            mqtt_shared=True,
            mqtt_share_group=f"bench-alerts-{run_id}",
            webhook_urls=[receiver.url],
            webhook_secret=SecretStr(secret),
            webhook_max_attempts=3,
            http_port=0,
        )
        service = CloudService(settings)
        probe = Probe(sos_prefix, fleet_prefix)
        fleet: Fleet | None = None
        sender: paho.Client | None = None
        runs: list[Emergency] = []
        backlog_at_last = 0
        try:
            service.start(mqtt_wait_s=_CONNECT_TIMEOUT_S)
            if service.worker is None or not service.worker.connected:
                raise BenchError(
                    f"the cloud could not subscribe at {args.mqtt_host}:{args.mqtt_port}"
                )
            probe.install(service)
            fleet_s = args.warmup_s + args.emergencies * args.interval_s + 5.0
            fleet = Fleet(args.mqtt_host, args.mqtt_port, fleet_ids, rate, fleet_s)
            fleet.start()
            console.print(f"\\[{label}] fleet publishing; warming up {args.warmup_s:.0f} s…")
            time.sleep(args.warmup_s)
            sender = _client(args.mqtt_host, args.mqtt_port, "sos")
            start = time.monotonic()
            for i in range(args.emergencies):
                delay = start + i * args.interval_s - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                runs.append(emergency(sender, f"{sos_prefix}{i:03d}"))
            with probe.lock:
                backlog_at_last = fleet.published - probe.fleet_handled
            console.print(
                f"\\[{label}] {args.emergencies} emergencies sent; fleet backlog at ingest"
                f" {backlog_at_last} msgs; waiting up to {args.drain_s:.0f} s for webhooks…"
            )
            fleet.stop()
            deadline = time.monotonic() + args.drain_s
            for r in runs:
                receiver.wait_for_device(r.device_id, max(0.0, deadline - time.monotonic()))
        finally:
            if sender is not None:
                sender.disconnect()
                sender.loop_stop()
            if fleet is not None:
                fleet.stop()
            service.stop()
            receiver.stop()
        for r in runs:
            r.ingest_entered = probe.entered.get(r.device_id)
            r.ingest_left = probe.left.get(r.device_id)
            got = next(
                (x for x in receiver.received if x.body.get("device_id") == r.device_id), None
            )
            if got is not None:
                r.webhook = got.at_monotonic
                r.signature_ok = got.signature_ok
        stored = counts(url)
    assert fleet is not None
    result = summarise(label, kind, rate, runs, fleet, probe, stored, args)
    result["seed_s"] = round(seed_s, 2)
    result["background"]["backlog_at_last_emergency"] = backlog_at_last
    p95 = result["ingest_to_webhook_s"]["p95"]
    console.print(
        f"\\[{label}] done: {result['misses']} missed, ingest → webhook p95 "
        + ("n/a" if p95 is None else f"{p95 * 1000:.1f} ms")
    )
    return result


def emergency(sender: paho.Client, device_id: str) -> Emergency:
    """Publish one emergency (seq 1 of a fresh device) and note when."""
    payload = EmergencyPayload(trigger=TriggerSource.BUTTON, countdown=CountdownOutcome.SKIPPED)
    env = make_envelope(
        device_id,
        1,
        payload,
        event_type=EventType.EMERGENCY,
        ts=datetime.now(UTC),
        priority=Priority.CRITICAL,
    )
    raw = encode(env)
    run = Emergency(device_id, time.monotonic())
    sender.publish(events_topic(device_id), raw, qos=1)
    return run


def summarise(
    label: str,
    kind: str,
    rate: float,
    runs: list[Emergency],
    fleet: Fleet,
    probe: Probe,
    stored: dict[str, int],
    args: argparse.Namespace,
) -> dict[str, Any]:
    """The numbers for one store at one fleet rate."""
    hits = [r for r in runs if r.webhook is not None]

    def span(a: str, b: str) -> list[float]:
        out = []
        for r in hits:
            x, y = getattr(r, a), getattr(r, b)
            if x is not None and y is not None:
                out.append(y - x)
        return out

    return {
        "label": label,
        "store": kind,
        "emergencies": len(runs),
        "misses": len(runs) - len(hits),
        "never_reached_ingest": sum(r.ingest_entered is None for r in runs),
        "bad_signatures": sum(r.signature_ok is False for r in runs),
        "ingest_to_webhook_s": percentiles(span("ingest_entered", "webhook")),
        "publish_to_webhook_s": percentiles(span("published", "webhook")),
        "steps_s": {
            "publish_to_ingest": percentiles(span("published", "ingest_entered")),
            "ingest_handle": percentiles(span("ingest_entered", "ingest_left")),
            "ingest_done_to_webhook": percentiles(span("ingest_left", "webhook")),
        },
        "background": {
            "devices": args.devices,
            "target_rate_msg_s": rate,
            "published": fleet.published,
            "achieved_rate_msg_s": round(fleet.achieved_rate, 1),
            "fleet_handled_by_ingest": probe.fleet_handled,
            "ingest_handled_total": probe.handled,
            "ingest_batches": probe.batches,
        },
        "seeded_open_alerts": args.open_alerts,
        "store_at_end": stored,
        "runs": [r.record() for r in runs],
    }


# -- the report -----------------------------------------------------------------------------
NOTES = [
    "ingest → webhook: from paho handing the emergency message to the ingest worker (the"
    " cloud's MQTT client has it; the in-process queue and the batch wait count) to the"
    " WebhookReceiver having the POST; this is the issue's 'arrival at ingest to the first"
    " webhook delivered'.",
    "publish → webhook: from this process's publish call, so the broker hop and any backlog"
    " of fleet messages queued before the emergency count too.",
    "steps: publish → ingest received; received → committed (queue, batch wait, store the"
    " batch with the event, open the alert, queue the delivery, commit); committed → webhook"
    " (dispatcher woken by the alert, claims the delivery, signs and POSTs it).",
    "Emergencies are sent open-loop every --interval-s (0.3 s) from fresh device ids while the"
    " fleet publishes at its fixed rate; the fleet stops after the last one, then webhooks get"
    " --drain-s to arrive. 'no webhook' = none by then; 'not ingested' = no batch holding it"
    " had been stored by then (still queued, or dropped by Mosquitto once the cloud's queue"
    " passed max_queued_messages, 1000 by default). Every emergency counts, the first"
    " too. Percentiles over those with a webhook: numpy, linear.",
    "Ingest backlog: fleet messages published minus those ingest had stored when the last"
    " emergency was sent. One ingest worker: paho's thread queues, one ingest thread stores"
    " batches (one transaction each, critical events first) and acknowledges after commit.",
    "The 1,000 open alerts are seeded on the first fleet devices, without deliveries; the"
    " fleet's events do not raise alerts (heartbeat, mood, touch).",
]


def _ms(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 1000:.1f}"


def _ok(value: float | None) -> str:
    if value is None:
        return "n/a"
    return "[green]✓[/]" if value <= TARGET_P95_S else "[red]✗[/]"


def table(stores: list[dict[str, Any]]) -> Table:
    """One column per store."""
    t = Table(title="emergency → caregiver webhook under fleet load (real Mosquitto, cloud)")
    t.add_column("metric")
    t.add_column("target", justify="right")
    for s in stores:
        t.add_column(s["label"], justify="right")

    def row(name: str, target: str, cells: list[str]) -> None:
        t.add_row(name, target, *cells)

    row(
        "emergencies / no webhook / not ingested",
        "0 / 0",
        [f"{s['emergencies']} / {s['misses']} / {s['never_reached_ingest']}" for s in stores],
    )
    for key, title in (
        ("ingest_to_webhook_s", "ingest → webhook"),
        ("publish_to_webhook_s", "publish → webhook"),
    ):
        for q in ("p50", "p95", "max"):
            target = f"≤ {TARGET_P95_S * 1000:.0f}" if q == "p95" else ""
            row(
                f"{title} {q} ms",
                target,
                [_ms(s[key][q]) + (f" {_ok(s[key][q])}" if q == "p95" else "") for s in stores],
            )
    for key, title in (
        ("publish_to_ingest", "  publish → ingest received"),
        ("ingest_handle", "  received → committed"),
        ("ingest_done_to_webhook", "  committed → webhook"),
    ):
        row(
            f"{title} p50 / p95 ms",
            "",
            [f"{_ms(s['steps_s'][key]['p50'])} / {_ms(s['steps_s'][key]['p95'])}" for s in stores],
        )
    row(
        "fleet devices / msg/s (achieved)",
        "",
        [
            f"{s['background']['devices']} / {s['background']['achieved_rate_msg_s']:.0f}"
            for s in stores
        ],
    )
    row(
        "fleet msgs published / ingested",
        "",
        [
            f"{s['background']['published']} / {s['background']['fleet_handled_by_ingest']}"
            for s in stores
        ],
    )
    row(
        "ingest batches / mean size",
        "",
        [
            f"{s['background'].get('ingest_batches', 'n/a')} / "
            + (
                f"{s['background']['ingest_handled_total'] / s['background']['ingest_batches']:.1f}"
                if s["background"].get("ingest_batches")
                else "n/a"
            )
            for s in stores
        ],
    )
    row(
        "ingest backlog at last emergency",
        "",
        [str(s["background"]["backlog_at_last_emergency"]) for s in stores],
    )
    row(
        "open alerts seeded / active at end",
        "",
        [f"{s['seeded_open_alerts']} / {s['store_at_end']['active_alerts']}" for s in stores],
    )
    row("events stored at end", "", [str(s["store_at_end"]["events"]) for s in stores])
    return t


def envelope(stores: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    """The JSON document."""
    return {
        "benchmark": "alerts",
        "finished_at": datetime.now(UTC).isoformat(),
        "machine": {
            "python": platform.python_version(),
            "cpu": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "kernel": platform.release(),
        },
        "target_p95_s": TARGET_P95_S,
        "parameters": {
            k: v for k, v in vars(args).items() if k not in ("out",) and not isinstance(v, Path)
        },
        "notes": NOTES,
        "stores": stores,
    }


def main() -> None:
    """Parse arguments, run each store, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--emergencies", type=int, default=100, help="default 100")
    parser.add_argument("--devices", type=int, default=5000, help="background fleet size")
    parser.add_argument("--open-alerts", type=int, default=1000, help="seeded open alerts")
    parser.add_argument(
        "--rates", default="100,200", help="fleet msg/s, comma-separated (default 100,200)"
    )
    parser.add_argument("--warmup-s", type=float, default=5.0, help="fleet only, before SOS")
    parser.add_argument("--interval-s", type=float, default=0.3, help="between emergencies")
    parser.add_argument("--drain-s", type=float, default=15.0, help="then wait for webhooks")
    parser.add_argument(
        "--stores", default="sqlite,postgresql", help="comma-separated: sqlite, postgresql"
    )
    parser.add_argument("--mqtt-host", default="127.0.0.1")
    parser.add_argument("--mqtt-port", type=int, default=1883)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("cloud.alerts.service").setLevel(logging.ERROR)  # one line per alert
    kinds = [k.strip() for k in args.stores.split(",") if k.strip()]
    if not kinds or set(kinds) - {"sqlite", "postgresql"}:
        parser.error("--stores takes sqlite and/or postgresql")
    try:
        rates = [float(r) for r in args.rates.split(",") if r.strip()]
    except ValueError:
        parser.error("--rates takes numbers, e.g. 100,200")
    if not rates or min(rates) <= 0 or max(rates) > 2000:
        parser.error("--rates must be in (0, 2000] msg/s")
    if args.emergencies < 1 or args.open_alerts > args.devices or args.interval_s <= 0:
        parser.error("need --emergencies ≥ 1, --interval-s > 0 and --open-alerts ≤ --devices")
    if args.mqtt_host not in ("127.0.0.1", "localhost", "::1"):
        parser.error("the fleet generator only runs against a broker on this machine")
    try:
        stores = [run_config(kind, rate, args) for kind in kinds for rate in rates]
    except KeyboardInterrupt:
        console.print("[red]interrupted: nothing written[/]")
        raise SystemExit(130) from None
    except BenchError as e:
        console.print(f"[red]error: {e}[/]")
        raise SystemExit(1) from None
    result = envelope(stores, args)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    console.print(table(stores))
    for note in NOTES:
        console.print(f"[dim]• {note}[/]")
    console.print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
