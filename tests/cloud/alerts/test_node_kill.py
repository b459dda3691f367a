"""Issue 16: three alert nodes (scheduler + dispatcher processes) and a kill -9 mid-escalation.

Four emergencies whose policy re-notifies every 0.3 s; three `run_node` processes on the store
(SQLite file or PostgreSQL). The receiver on loopback finds which node sent a request (by its
source port) and, once the nodes are busy, has the victim killed with SIGKILL while its POST
is in hand, before answering it. Then the alerts are acknowledged and the survivors drain.
Checked: every delivery row delivered and received, no escalation step twice, one delivery
per step run; the only delivery received twice is the one the dead node had in flight (the
survivor sends it again once its lease ends: at-least-once at the HTTP edge, and the
X-Dolbom-Delivery header lets the receiver see it is the same notification).
"""

import contextlib
import http.server
import os
import signal
import subprocess
import sys
import threading
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil
from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts import AlertEngine
from cloud.alerts.webhook import DELIVERY_HEADER
from cloud.store.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    EscalationStep,
    StepStatus,
)
from protocol import EventType
from protocol.events import EmergencyPayload, TriggerSource
from tests.cloud.alerts.care import make_care, send
from tests.cloud.helpers import wait_until

REPO = Path(__file__).resolve().parents[3]
LEASE_S = 4.0  # a node's webhook timeout is half of it: 2 s for a loopback answer
ALERTS = 4


class Receiver:
    """Records (delivery id, node pid) per POST; kills the victim on its first POST after `arm`."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int]] = []
        self.victim: int | None = None
        self.killed_on: int | None = None
        self.armed_after = 1_000_000
        self._lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                delivery = int(self.headers.get(DELIVERY_HEADER, "0"))
                pid = receiver.pid_of(self.client_address[1])
                with receiver._lock:
                    receiver.seen.append((delivery, pid))
                    kill = (
                        pid == receiver.victim
                        and receiver.killed_on is None
                        and len(receiver.seen) > receiver.armed_after
                    )
                    if kill:
                        receiver.killed_on = delivery
                if kill:
                    os.kill(pid, signal.SIGKILL)  # mid-POST: the node never hears back
                    return
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                with contextlib.suppress(OSError):  # a connection gone with the victim
                    self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def pid_of(self, client_port: int) -> int:
        """The victim's pid when the request came from one of its sockets, else 0."""
        if self.victim is None:
            return 0
        try:
            conns = psutil.Process(self.victim).net_connections(kind="tcp")
        except psutil.Error:
            return 0
        mine = any(c.laddr and c.laddr.port == client_port for c in conns)
        return self.victim if mine else 0

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def node(database_url: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.cloud.alerts.run_node", database_url, str(LEASE_S)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    return proc


def test_kill_9_of_a_node_mid_escalation_skips_nothing_and_repeats_nothing(
    database_url: str, sessions: sessionmaker[Session]
) -> None:
    receiver = Receiver()
    nodes: list[subprocess.Popen[str]] = []
    try:
        engine = AlertEngine()
        now = datetime.now(UTC)
        alerts = []
        for _ in range(ALERTS):
            care = make_care(
                sessions,
                now,
                contacts={"daughter": (Channel.WEBHOOK, receiver.url)},
                tiers=[{"contacts": ["daughter"], "timeout_s": 0.3, "renotify_s": 0.3}],
            )
            outcome = send(
                sessions,
                care,
                EventType.EMERGENCY,
                EmergencyPayload(trigger=TriggerSource.BUTTON),
                now,
                engine,
            )
            assert outcome.alert is not None
            alerts.append(outcome.alert.alert_id)
        nodes = [node(database_url) for _ in range(3)]
        receiver.victim = nodes[0].pid
        receiver.armed_after = 8  # the nodes are all at work by then
        wait_until(lambda: receiver.killed_on, 60, "the victim to POST and be killed")
        seen_at_kill = len(receiver.seen)
        wait_until(lambda: len(receiver.seen) > seen_at_kill + 12, 60, "the survivors to go on")
        with sessions() as s, s.begin():
            for alert_id in alerts:
                engine.acknowledge(s, alert_id, "daughter", datetime.now(UTC))

        def settled() -> bool:
            with sessions() as s:
                return not s.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.status == DeliveryStatus.PENDING)
                )

        wait_until(settled, 60, "every delivery made")
        with sessions() as s:
            deliveries = list(s.scalars(select(Delivery).where(Delivery.alert_id.in_(alerts))))
            steps = list(
                s.execute(
                    select(
                        EscalationStep.alert_id,
                        EscalationStep.tier,
                        EscalationStep.attempt,
                        EscalationStep.status,
                    ).where(EscalationStep.alert_id.in_(alerts))
                )
            )
        assert {d.status for d in deliveries} == {DeliveryStatus.DELIVERED}
        received = Counter(d for d, _ in receiver.seen)
        assert set(received) == {d.id for d in deliveries}  # none skipped
        twice = {d: n for d, n in received.items() if n > 1}
        assert twice == {receiver.killed_on: 2}  # only the dead node's request in flight
        assert next(p for d, p in receiver.seen if d == receiver.killed_on) == nodes[0].pid
        keys = Counter((a, t, n) for a, t, n, _ in steps)
        assert max(keys.values()) == 1  # no step ran (or was planned) twice
        done = Counter(a for a, _, _, st in steps if st == StepStatus.DONE)
        per_alert = Counter(d.alert_id for d in deliveries)
        assert per_alert == done  # one delivery per step run: the one contact, once
        assert nodes[0].wait(10) == -signal.SIGKILL
    finally:
        for proc in nodes:
            if proc.poll() is None:
                proc.kill()
            proc.wait(10)
            if proc.stdout is not None:
                proc.stdout.close()
        receiver.close()
