"""A minimal robot process for kill -9 tests: an Outbox plus an MqttLink, driven from argv.

Event `i` is a heartbeat with uptime_s = i (so every event is identifiable); every 5th is
critical, every 3rd normal, the rest low. Prints one line per milestone (flushed):
`appended N`, `connected`, `acked SEQ`, `drained`.
"""

import argparse
import logging
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from device.config import MqttConfig
from device.link.mqtt import MqttLink
from device.outbox import Outbox
from protocol import EventType, Priority
from protocol.events import HeartbeatPayload

BASE_TS = datetime(2026, 1, 1, tzinfo=UTC)


def priority_of(index: int) -> Priority:
    """The priority the helper gives event `index`."""
    if index % 5 == 0:
        return Priority.CRITICAL
    if index % 3 == 0:
        return Priority.NORMAL
    return Priority.LOW


def say(line: str) -> None:
    """One milestone line for the parent test."""
    print(line, flush=True)


def main(argv: list[str] | None = None) -> int:
    """Append `--count` events starting at `--start`, run the link, optionally exit when drained."""
    p = argparse.ArgumentParser()
    p.add_argument("--db", type=Path, required=True)
    p.add_argument("--device-id", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--protocol", choices=["5", "3.1.1"], default="5")
    p.add_argument("--count", type=int, default=0)
    p.add_argument("--start", type=int, default=0)
    p.add_argument("--ack-delay-s", type=float, default=0.0, help="slow each ack (a slow link)")
    p.add_argument("--exit-when-drained", action="store_true")
    p.add_argument("--timeout-s", type=float, default=60.0)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)

    outbox = Outbox(args.db, args.device_id)
    for i in range(args.start, args.start + args.count):
        outbox.append(
            EventType.HEARTBEAT,
            HeartbeatPayload(uptime_s=i, agent_version="test", outbox_pending=0),
            ts=BASE_TS + timedelta(milliseconds=i),
            priority=priority_of(i),
        )
    say(f"appended {args.count}")

    def on_acked(seq: int) -> None:
        say(f"acked {seq}")
        if args.ack_delay_s:
            time.sleep(args.ack_delay_s)

    mqtt = MqttConfig(
        port=args.port, protocol=args.protocol, reconnect_min_s=0.05, reconnect_max_s=0.5
    )
    link = MqttLink(args.device_id, mqtt, outbox, on_acked=on_acked)
    link.start()
    deadline = time.monotonic() + args.timeout_s
    if link.wait_connected(args.timeout_s):
        say("connected")
    while time.monotonic() < deadline:
        if args.exit_when_drained and outbox.pending_count() == 0:
            say("drained")
            link.stop()
            return 0
        time.sleep(0.02)
    link.stop()
    return 1


if __name__ == "__main__":
    sys.exit(main())
