"""Issue 17: sd_notify from the agent's loop — READY=1 when it listens, WATCHDOG=1 every half
period while its loop runs, STOPPING=1 at the end; nothing at all outside systemd."""

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from device.agent import Agent
from device.config import DeviceConfig
from device.outbox import Outbox
from device.watchdog import Notifier, WatchdogStage
from tests.device.test_agent import FakeSource, RecordingSpeaker, ScriptedEars, _run_until


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing in for systemd's $NOTIFY_SOCKET."""
    path = str(tmp_path / "notify")
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    sock.setblocking(False)
    yield sock, path
    sock.close()


def _received(sock: socket.socket) -> list[str]:
    out = []
    while True:
        try:
            out.append(sock.recv(4096).decode("utf-8"))
        except BlockingIOError:
            return out


def test_ready_is_sent_to_the_notify_socket(notify_socket: tuple[socket.socket, str]) -> None:
    sock, path = notify_socket
    notifier = Notifier({"NOTIFY_SOCKET": path})
    assert notifier.notify("READY=1")
    assert _received(sock) == ["READY=1"]
    notifier.close()


def test_abstract_socket_names_are_understood() -> None:
    name = f"dolbom-test-{os.getpid()}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    sock.setblocking(False)
    try:
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.notify("WATCHDOG=1")
        assert _received(sock) == ["WATCHDOG=1"]
        notifier.close()
    finally:
        sock.close()


def test_without_systemd_nothing_is_sent_and_nothing_fails() -> None:
    notifier = Notifier({})
    assert not notifier.enabled
    assert not notifier.notify("READY=1")
    assert notifier.interval_s is None


def test_a_vanished_socket_is_logged_not_raised(tmp_path: Path) -> None:
    notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "gone")})
    assert not notifier.notify("WATCHDOG=1")
    notifier.close()


def test_watchdog_period_is_halved_and_only_for_this_process() -> None:
    assert Notifier({"WATCHDOG_USEC": "30000000"}).interval_s == 15.0
    mine = {"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier(mine).interval_s == 15.0
    assert Notifier({"WATCHDOG_USEC": "30000000", "WATCHDOG_PID": "1"}).interval_s is None
    assert Notifier({"WATCHDOG_USEC": "0"}).interval_s is None
    assert Notifier({"WATCHDOG_USEC": "soon"}).interval_s is None


def test_stage_pets_every_half_period_of_loop_time(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    stage = WatchdogStage(Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}))
    for now_s in (0.0, 0.5, 0.99, 1.0, 1.5, 2.0, 2.1):
        stage.tick(now_s)
    assert _received(sock) == ["WATCHDOG=1"] * 3  # at 0.0, 1.0 and 2.0
    assert stage.sent == 3
    stage.notifier.close()


def test_a_loop_that_stops_ticking_stops_the_messages(
    notify_socket: tuple[socket.socket, str],
) -> None:
    sock, path = notify_socket
    stage = WatchdogStage(Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "2000000"}))
    stage.tick(0.0)
    _received(sock)
    # The agent's loop hangs: no tick, so no message, whatever time passes; systemd acts.
    assert _received(sock) == []
    stage.notifier.close()


async def test_agent_says_ready_then_watchdog_then_stopping(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    stage = WatchdogStage(Notifier({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"}))
    config = DeviceConfig(device_id="robot-test", data_dir=tmp_path, speech_out="print")
    agent = Agent(
        config,
        source=FakeSource(),
        listener=ScriptedEars([]),
        speaker=RecordingSpeaker(),
        outbox=Outbox(config.outbox_path, config.device_id),
        link=None,
        stages=[stage],
    )
    await _run_until(agent, lambda: stage.sent >= 3, timeout_s=120)
    messages = _received(sock)
    assert messages[0] == "READY=1\nSTATUS=listening (robot-test)"
    assert messages.count("WATCHDOG=1") >= 3
    assert messages[-1] == "STOPPING=1"
