"""systemd's service watchdog, from the agent's own loop: `READY=1`, then `WATCHDOG=1`.

The unit (deploy/pi/dolbom-robot.service) says `Type=notify` and `WatchdogSec=`. systemd
passes the socket in `$NOTIFY_SOCKET` and the period in `$WATCHDOG_USEC`; the agent ticks this
stage about ten times a second from its loop and it writes `WATCHDOG=1` every half period.
If the loop hangs (a stage stuck, a deadlock), the messages stop and systemd kills and restarts
the robot. The protocol is one datagram on a Unix socket, so no library is needed: sd_notify(3).
Outside systemd (no `$NOTIFY_SOCKET`) every call does nothing.
"""

import logging
import os
import socket
from collections.abc import Mapping

from device.stages import StageContext
from protocol import Command, CommandResult
from protocol.events import SelfTest

log = logging.getLogger(__name__)


class Notifier:
    """Sends sd_notify(3) messages to `$NOTIFY_SOCKET` (nothing when it is unset)."""

    def __init__(self, environ: Mapping[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        address = env.get("NOTIFY_SOCKET", "")
        # "@name" is an abstract socket: the name starts with a NUL byte.
        self._address = "\0" + address[1:] if address.startswith("@") else address
        self._sock: socket.socket | None = None
        self.interval_s = self._interval(env)

    @staticmethod
    def _interval(env: Mapping[str, str]) -> float | None:
        """Half the watchdog period systemd asked for, when it is meant for this process."""
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        if not usec.isdigit() or int(usec) == 0:
            return None
        if pid and pid != str(os.getpid()):
            return None
        return int(usec) / 1e6 / 2

    @property
    def enabled(self) -> bool:
        """Whether systemd is listening."""
        return bool(self._address)

    def notify(self, message: str) -> bool:
        """Send one message ("READY=1", "WATCHDOG=1", "STATUS=..."); False when it was not sent."""
        if not self._address:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(message.encode("utf-8"), self._address)
        except OSError as e:
            log.warning("sd_notify %r failed: %s", message.split("=", 1)[0], e)
            return False
        return True

    def close(self) -> None:
        """Close the socket."""
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class WatchdogStage:
    """The stage that tells systemd the robot is up, and keeps telling it the loop runs."""

    name = "watchdog"

    def __init__(self, notifier: Notifier) -> None:
        self.notifier = notifier
        self._next_s: float | None = None
        self.sent = 0  # WATCHDOG=1 messages sent

    def start(self, ctx: StageContext) -> None:
        """The agent is listening: READY=1."""
        self.notifier.notify(f"READY=1\nSTATUS=listening ({ctx.device_id})")

    def handle(self, item: object, now_s: float) -> None:
        """Nothing to handle."""

    def tick(self, now_s: float) -> None:
        """Called from the agent's loop: WATCHDOG=1 every half period."""
        interval = self.notifier.interval_s
        if interval is None:
            return
        if self._next_s is None or now_s >= self._next_s:
            if self.notifier.notify("WATCHDOG=1"):
                self.sent += 1
            self._next_s = now_s + interval

    def on_command(self, command: Command) -> CommandResult | None:
        """No commands."""
        return None

    def self_tests(self) -> list[SelfTest]:
        """None: systemd watches this one."""
        return []

    def stop(self) -> None:
        """STOPPING=1, so systemd does not count the shutdown as a hang."""
        self.notifier.notify("STOPPING=1")
        self.notifier.close()
