"""Chaos: random kill -9 of a robot, the ingest worker, the broker or the store under a fleet.

Loopback only, bounded. Parts, each a real process or server:
- robots: `python -m benchmarks.chaos robot ...` processes, each the robot's real Outbox and
  MqttLink, appending a heartbeat every 50 ms and an emergency (the help button) every 25th
  event, and journaling every event it appended (after the outbox committed it). An event
  the cloud has not reported stored is re-sent after 2 s, doubling up to 10 s (production:
  30 s up to 30 min), so that a bounded run can wait for the re-sends;
- the broker: a private Mosquitto on a free port with persistence on, with
  deploy/mosquitto/mosquitto.conf's limits and persistence timing read from that file
  (message size, in-flight and queue limits, autosave); no TLS, passwords or ACL (loopback);
- the cloud: `dolbom cloud serve` (ingest + alerts + API) as a subprocess, with its
  persistent session under a fixed client id (the production default);
- the store: a scratch database on the system PostgreSQL.

Each round waits a random 0.5-2 s of load, then one fault, chosen at random (seeded):
- `robot`: kill -9 one robot process, restart it on the same outbox file after 0.5 s;
- `ingest`: kill -9 `dolbom cloud serve`, restart it after 0.5-2 s;
- `broker`: kill -9 Mosquitto, restart it on the same port and persistence file after 0.5-2 s;
- `store`: PostgreSQL cannot be killed safely here (it is the system's server), so its outage
  is SIMULATED: `ALTER DATABASE <scratch> ALLOW_CONNECTIONS false`, then
  `pg_terminate_backend` of every connection to the scratch database (what a crash does to
  the cloud's pool), a 1-3 s window with no new connection possible, then ALLOW_CONNECTIONS
  true. The server's own crash recovery (WAL replay) is not exercised.

Afterwards the robots stop appending and drain; the check reads the store: every journaled
event stored exactly once (by (device, epoch, seq) and by content), every stored emergency
counted by an emergency alert (the sum of the device's emergency alerts' repeat counts equals
its stored emergencies). Lost and duplicates must be 0.

Run: `python -m benchmarks.chaos --rounds 100` (table + benchmarks/results/chaos.json).
"""

import argparse
import contextlib
import json
import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "chaos.json"
PG_ADMIN_URL = os.environ.get(
    "DOLBOM_TEST_PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
FAULTS = ("robot", "ingest", "broker", "store")
EVENT_EVERY_S = 0.05
EMERGENCY_EVERY = 25
CLIENT_ID = "dolbom-ingest-chaos-0"
START_S = 120.0  # a part must be up within this (real seconds; generous: CI is a loaded box)
DRAIN_S = 120.0  # after the last round: robots drained and the store complete within this
BASE_TS = datetime(2026, 12, 1, tzinfo=UTC)
RESEND_AFTER_S = 2.0  # a sent event not reported stored is sent again after this (real s)...
RESEND_MAX_S = 10.0  # ...doubling up to this

log = logging.getLogger("chaos")


# -- the robot process -----------------------------------------------------------------------
def robot_main(argv: list[str]) -> int:
    """One chaos robot: append events until the stop file exists, then drain and exit 0."""
    from device.config import MqttConfig
    from device.link.mqtt import MqttLink
    from device.outbox import Outbox, OutboxLimits
    from protocol import EventType, Priority
    from protocol.events import EmergencyPayload, HeartbeatPayload, TriggerSource

    p = argparse.ArgumentParser(prog="chaos robot")
    p.add_argument("--dir", type=Path, required=True)
    p.add_argument("--device-id", required=True)
    p.add_argument("--port", type=int, required=True)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    args.dir.mkdir(parents=True, exist_ok=True)
    journal = os.open(args.dir / "journal", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    stop_file = args.dir / "stop"
    limits = OutboxLimits(resend_after_s=RESEND_AFTER_S, resend_max_s=RESEND_MAX_S)
    outbox = Outbox(args.dir / "outbox.sqlite3", args.device_id, limits=limits)
    mqtt = MqttConfig(port=args.port, protocol="5", reconnect_min_s=0.05, reconnect_max_s=1.0)
    link = MqttLink(args.device_id, mqtt, outbox)
    link.start()
    index = outbox.last_seq()  # an event's index is its seq (this outbox is never reset)
    while not stop_file.exists():
        index += 1
        ts = BASE_TS + timedelta(milliseconds=index)
        if index % EMERGENCY_EVERY == 0:
            record = outbox.append(
                EventType.EMERGENCY,
                EmergencyPayload(trigger=TriggerSource.BUTTON),
                ts=ts,
            )
        else:
            record = outbox.append(
                EventType.HEARTBEAT,
                HeartbeatPayload(uptime_s=index, agent_version="chaos", outbox_pending=0),
                ts=ts,
                priority=Priority.LOW,
            )
        kind = "emergency" if index % EMERGENCY_EVERY == 0 else "heartbeat"
        line = f"{record.epoch} {record.seq} {kind} {ts.isoformat()} {time.time():.3f}\n"
        os.write(journal, line.encode())
        time.sleep(EVENT_EVERY_S)
    deadline = time.monotonic() + DRAIN_S
    while time.monotonic() < deadline and _unsettled(outbox) > 0:
        time.sleep(0.1)
    left = _unsettled(outbox)
    link.stop()
    print(f"drained {left}", flush=True)
    return 0 if left == 0 else 1


def _unsettled(outbox: Any) -> int:
    """Events the robot still holds: unsent, or sent and not yet confirmed stored."""
    count = getattr(outbox, "unconfirmed_count", None)
    return int(count()) if callable(count) else int(outbox.pending_count())


# -- the parts ---------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _listening(port: int) -> bool:
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
        return True
    return False


def _wait(cond: Any, limit_s: float, what: str) -> None:
    deadline = time.monotonic() + limit_s
    while not cond():
        if time.monotonic() > deadline:
            raise ChaosError(f"{what} within {limit_s:.0f} s")
        time.sleep(0.05)


class ChaosError(RuntimeError):
    """A part did not come up or the run could not finish (not: a loss, which is a result)."""


DEPLOY_CONF = REPO / "deploy" / "mosquitto" / "mosquitto.conf"
_DEPLOY_KEYS = (
    "message_size_limit",
    "max_inflight_messages",
    "max_queued_messages",
    "max_queued_bytes",
    "autosave_interval",
    "autosave_on_changes",
    "persistent_client_expiration",
)


def deploy_broker_settings() -> list[str]:
    """The production broker's limits and persistence timing (deploy/mosquitto), as lines."""
    out = []
    for raw in DEPLOY_CONF.read_text(encoding="utf-8").splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.split(" ", 1)[0] in _DEPLOY_KEYS:
            out.append(line)
    return out


class Broker:
    """A private Mosquitto with persistence, restartable on the same port and file."""

    def __init__(self, workdir: Path) -> None:
        self.dir = workdir
        self.port = _free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        binary = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
        self.binary = binary
        conf = workdir / "mosquitto.conf"
        conf.write_text(
            f"listener {self.port} 127.0.0.1\n"
            "allow_anonymous true\n"
            + "".join(f"{line}\n" for line in deploy_broker_settings())
            + "persistence true\n"
            f"persistence_location {workdir}/\n"
            + ("user root\n" if os.geteuid() == 0 else "")
            + f"log_dest file {workdir}/mosquitto.log\n",
            encoding="utf-8",
        )
        self.conf = conf

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [self.binary, "-c", str(self.conf)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait(lambda: _listening(self.port), START_S, "the broker did not listen")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill9()


class Cloud:
    """`dolbom cloud serve` as a subprocess on the scratch database and the private broker."""

    def __init__(self, workdir: Path, database_url: str, mqtt_port: int) -> None:
        self.dir = workdir
        self.http_port = _free_port()
        self.env = {
            **os.environ,
            "DOLBOM_DATABASE_URL": database_url,
            "DOLBOM_MQTT_HOST": "127.0.0.1",
            "DOLBOM_MQTT_PORT": str(mqtt_port),
            "DOLBOM_MQTT_CLIENT_ID": CLIENT_ID,
            "DOLBOM_MQTT_SESSION": "persistent",
            "DOLBOM_API_TOKEN": "chaos-token-not-a-secret",
            "DOLBOM_HTTP_HOST": "127.0.0.1",
            "DOLBOM_HTTP_PORT": str(self.http_port),
            "PYTHONUNBUFFERED": "1",
        }
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.self_exits = 0  # exits nobody caused (found after a round)
        self.log = workdir / "cloud-0.log"

    def start(self) -> None:
        self.starts += 1
        self.log = self.dir / f"cloud-{self.starts}.log"
        log_file = self.log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "dolbom", "cloud", "serve"],
            cwd=REPO,
            env=self.env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
        log_file.close()
        proc = self.proc

        def up() -> bool:
            if proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-2000:]
                raise ChaosError(f"the cloud exited with {proc.returncode} at start:\n{tail}")
            return _listening(self.http_port)

        _wait(up, START_S, "the cloud did not serve")

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()


class Robot:
    """One chaos robot process with its own outbox and journal."""

    def __init__(self, workdir: Path, device_id: str, port: int) -> None:
        self.dir = workdir / device_id
        self.device_id = device_id
        self.port = port
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        self.dir.mkdir(parents=True, exist_ok=True)
        log_file = (self.dir / f"robot-{self.starts}.log").open("wb")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.chaos",
                "robot",
                "--dir",
                str(self.dir),
                "--device-id",
                self.device_id,
                "--port",
                str(self.port),
            ],
            cwd=REPO,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        log_file.close()

    def kill9(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    def journal(self) -> list[tuple[int, int, str, float]]:
        """(epoch, seq, kind, wall time of the append) of every event the robot appended."""
        path = self.dir / "journal"
        if not path.exists():
            return []
        out = []
        for line in path.read_text().splitlines():
            epoch, seq, kind, _ts, at = line.split()
            out.append((int(epoch), int(seq), kind, float(at)))
        return out

    def held(self) -> set[int]:
        """Seqs still in the robot's outbox (unsent, or sent and not reported stored)."""
        import sqlite3

        path = self.dir / "outbox.sqlite3"
        if not path.exists():
            return set()
        with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as db:
            return {int(r[0]) for r in db.execute("SELECT seq FROM outbox")}


@contextlib.contextmanager
def _store_outage(admin_url: str, database: str, window_s: float) -> Iterator[int]:
    """Simulated PostgreSQL outage for one database (see the module's docstring)."""
    import psycopg
    from psycopg import sql

    with psycopg.connect(admin_url, autocommit=True, connect_timeout=3) as admin:
        admin.execute(
            sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS false").format(sql.Identifier(database))
        )
        try:
            rows = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            ).fetchone()
            time.sleep(window_s)
            yield int(rows[0]) if rows else 0
        finally:
            admin.execute(
                sql.SQL("ALTER DATABASE {} ALLOW_CONNECTIONS true").format(sql.Identifier(database))
            )


# -- the run -----------------------------------------------------------------------------------
@dataclass
class ChaosReport:
    """What a chaos run did and found."""

    rounds: int
    seed: int
    robots: int
    faults: dict[str, int] = field(default_factory=dict)
    events: int = 0  # journaled by the robots
    emergencies: int = 0
    stored: int = 0
    stored_emergencies: int = 0
    lost: int = 0
    lost_emergencies: int = 0
    duplicates_stored: int = 0
    emergencies_not_alerted: int = 0
    emergency_alerts: int = 0
    dead_letters: int = 0
    robots_undrained: int = 0
    wall_s: float = 0.0
    simulated: str = "PostgreSQL outage simulated: ALLOW_CONNECTIONS false + pg_terminate_backend"
    lost_held: int = 0  # lost but still in the robot's outbox (would be re-sent: late)
    lost_forgotten: int = 0  # lost and gone from the robot's outbox: a real loss
    timeline: list[str] = field(default_factory=list)  # "t+12.3 s broker" per round
    lost_examples: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing twice, every emergency alerted."""
        return self.lost == 0 and self.duplicates_stored == 0 and self.emergencies_not_alerted == 0


def run_chaos(
    rounds: int, seed: int = 14, robots: int = 3, workdir: Path | None = None
) -> ChaosReport:
    """Run `rounds` random faults under `robots` robots; check the store afterwards."""
    from sqlalchemy import make_url

    from cloud.store import migrate
    from cloud.store.scratch import scratch_database

    rng = random.Random(seed)
    report = ChaosReport(rounds, seed, robots, faults=dict.fromkeys(FAULTS, 0))
    wall0 = time.monotonic()
    started: list[tuple[float, str]] = []  # (wall time, fault) of each round
    own_tmp = workdir is None
    base = Path(tempfile.mkdtemp(prefix="dolbom-chaos-")) if workdir is None else workdir
    try:
        with scratch_database(PG_ADMIN_URL, "dolbom_chaos") as url:
            database = make_url(url).database or ""
            migrate(url)
            broker = Broker(base)
            broker.start()
            cloud = Cloud(base, url, broker.port)
            fleet = [Robot(base, f"chaos-{i:02d}", broker.port) for i in range(robots)]
            try:
                cloud.start()
                for robot in fleet:
                    robot.start()
                for n in range(rounds):
                    time.sleep(rng.uniform(0.5, 2.0))
                    fault = rng.choice(FAULTS)
                    report.faults[fault] += 1
                    started.append((time.time(), fault))
                    log.info("round %d/%d: %s", n + 1, rounds, fault)
                    _inject(fault, rng, broker, cloud, fleet, database)
                for robot in fleet:
                    (robot.dir / "stop").touch()
                for robot in fleet:
                    if robot.proc is not None:
                        code = _wait_supervised(robot, cloud, report)
                        if code != 0:
                            report.robots_undrained += 1
                            report.notes.append(f"{robot.device_id} exited {code} undrained")
                report.notes.append(
                    f"the cloud was started {cloud.starts} times; exited by itself"
                    f" {cloud.self_exits} times after a round"
                )
                _check(report, url, fleet, started)
            finally:
                for robot in fleet:
                    robot.kill9()
                cloud.stop()
                broker.stop()
    finally:
        report.wall_s = round(time.monotonic() - wall0, 1)
        if own_tmp:
            shutil.rmtree(base, ignore_errors=True)
    return report


def _wait_supervised(robot: Robot, cloud: Cloud, report: "ChaosReport") -> int:
    """Wait for a draining robot; meanwhile restart the cloud if it exited (systemd would)."""
    assert robot.proc is not None
    deadline = time.monotonic() + DRAIN_S + 30
    while time.monotonic() < deadline:
        code = robot.proc.poll()
        if code is not None:
            return code
        if cloud.proc is not None and cloud.proc.poll() is not None:
            report.notes.append(
                f"the cloud exited by itself ({cloud.proc.returncode}) in the drain"
            )
            cloud.start()
        time.sleep(1.0)
    robot.kill9()
    return -9


def _inject(
    fault: str,
    rng: random.Random,
    broker: Broker,
    cloud: Cloud,
    fleet: list[Robot],
    database: str,
) -> None:
    if fault == "robot":
        robot = rng.choice(fleet)
        robot.kill9()
        time.sleep(0.5)
        robot.start()
    elif fault == "ingest":
        cloud.kill9()
        time.sleep(rng.uniform(0.5, 2.0))
        cloud.start()
    elif fault == "broker":
        broker.kill9()
        time.sleep(rng.uniform(0.5, 2.0))
        broker.start()
    else:
        with _store_outage(PG_ADMIN_URL, database, rng.uniform(1.0, 3.0)):
            pass
    if cloud.proc is not None and cloud.proc.poll() is not None:  # died on its own: a finding
        cloud.self_exits += 1
        log.warning(
            "the cloud exited with %s after a %s fault; restarting", cloud.proc.returncode, fault
        )
        cloud.start()


def _check(
    report: ChaosReport, url: str, fleet: list[Robot], started: list[tuple[float, str]]
) -> None:
    """Wait (bounded) until the store holds every journaled event, then count."""
    from sqlalchemy import create_engine, func, select

    from cloud.store.models import Alert, AlertKind, DeadLetter, Event

    journaled = {r.device_id: r.journal() for r in fleet}
    report.events = sum(len(j) for j in journaled.values())
    report.emergencies = sum(1 for j in journaled.values() for e in j if e[2] == "emergency")
    engine = create_engine(url)
    try:
        deadline = time.monotonic() + DRAIN_S
        while True:
            with engine.connect() as conn:
                stored = conn.execute(
                    select(Event.device_id, Event.epoch, Event.seq, Event.type, Event.ts)
                ).all()
            keys = {(d, e, s) for d, e, s, _t, _ts in stored}
            missing = [
                (dev, e, s, kind, at)
                for dev, items in journaled.items()
                for e, s, kind, at in items
                if (dev, e, s) not in keys
            ]
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        with engine.connect() as conn:
            alerts = conn.execute(
                select(Alert.device_id, func.sum(Alert.repeat_count), func.count())
                .where(Alert.kind == AlertKind.EMERGENCY)
                .group_by(Alert.device_id)
            ).all()
            report.dead_letters = int(
                conn.execute(select(func.count()).select_from(DeadLetter)).scalar() or 0
            )
    finally:
        engine.dispose()
    report.stored = len(stored)
    report.stored_emergencies = sum(1 for row in stored if row[3] == "emergency")
    report.lost = len(missing)
    report.lost_emergencies = sum(1 for m in missing if m[3] == "emergency")
    held = {r.device_id: r.held() for r in fleet}
    report.lost_held = sum(1 for d, _e, s, _k, _at in missing if s in held[d])
    report.lost_forgotten = report.lost - report.lost_held
    t0 = started[0][0] if started else 0.0
    report.timeline = [f"t{at - t0:+.1f} s {fault}" for at, fault in started]

    def before(at: float) -> str:
        earlier = [f"{fault} at t{t - t0:+.1f} s" for t, fault in started if t <= at]
        return earlier[-1] if earlier else "before the first fault"

    report.lost_examples = [
        f"{d} seq {s} ({k}) appended t{at - t0:+.1f} s, after {before(at)};"
        f" {'still held by the robot' if s in held[d] else 'gone from the robot'}"
        for d, _e, s, k, at in missing[:10]
    ]
    by_key = Counter((d, e, s) for d, e, s, _t, _ts in stored)
    by_content = Counter((d, t, ts) for d, _e, _s, t, ts in stored)
    report.duplicates_stored = sum(n - 1 for n in by_key.values() if n > 1) + sum(
        n - 1 for n in by_content.values() if n > 1
    )
    stored_em = Counter(row[0] for row in stored if row[3] == "emergency")
    counted = {dev: int(total or 0) for dev, total, _n in alerts}
    report.emergency_alerts = sum(int(n) for _d, _t, n in alerts)
    report.emergencies_not_alerted = sum(
        max(0, n - counted.get(dev, 0)) for dev, n in stored_em.items()
    )


def table(report: ChaosReport) -> str:
    """The result as a Markdown table."""
    rows = [
        ("rounds", report.rounds),
        ("faults (robot/ingest/broker/store)", "/".join(str(report.faults[f]) for f in FAULTS)),
        ("robots", report.robots),
        ("events journaled", report.events),
        ("emergencies journaled", report.emergencies),
        ("events stored", report.stored),
        ("lost (must be 0)", report.lost),
        ("lost emergencies", report.lost_emergencies),
        ("lost, still held by the robot (late)", report.lost_held),
        ("lost, gone from the robot (forgotten)", report.lost_forgotten),
        ("duplicates stored (must be 0)", report.duplicates_stored),
        ("emergencies not alerted (must be 0)", report.emergencies_not_alerted),
        ("emergency alerts (open + repeats counted)", report.emergency_alerts),
        ("dead letters", report.dead_letters),
        ("robots not drained", report.robots_undrained),
        ("wall time (s)", report.wall_s),
    ]
    lines = ["| what | value |", "|---|---|"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """`python -m benchmarks.chaos [--rounds N] [--seed S] [--robots R]` or `... robot ...`."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["robot"]:
        return robot_main(argv[1:])
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    p.add_argument("--rounds", type=int, default=100)
    p.add_argument("--seed", type=int, default=14)
    p.add_argument("--robots", type=int, default=3)
    p.add_argument("--out", type=Path, default=RESULTS)
    p.add_argument("--workdir", type=Path, help="keep the parts' logs here (default: a temp dir)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    report = run_chaos(args.rounds, args.seed, args.robots, args.workdir)
    print(table(report))
    for note in report.notes + report.lost_examples:
        print(f"- {note}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    data = asdict(report) | {"ok": report.ok, "measured_at": datetime.now(UTC).isoformat()}
    args.out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    print(f"written {args.out}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
