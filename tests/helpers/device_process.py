"""Run `tests/helpers/device_proc.py` as a real child process and follow its milestone lines."""

import os
import queue
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


class DeviceProcess:
    """A robot process that a test can SIGKILL; its stdout lines are collected as they come."""

    def __init__(self, *args: str) -> None:
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed by close()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.helpers.device_proc", *args],
            cwd=REPO_ROOT,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        self.lines: list[str] = []
        self._new: queue.Queue[str] = queue.Queue()
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            with self._lock:
                self.lines.append(line)
            self._new.put(line)

    def count(self, prefix: str) -> int:
        """How many lines so far start with `prefix`."""
        with self._lock:
            return sum(1 for line in self.lines if line.startswith(prefix))

    def wait_count(self, prefix: str, n: int, timeout_s: float) -> bool:
        """Wait until at least `n` lines start with `prefix`; False on timeout or exit."""
        deadline = time.monotonic() + timeout_s
        while self.count(prefix) < n:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            try:
                self._new.get(timeout=min(remaining, 0.2))
            except queue.Empty:
                if self.proc.poll() is not None and self._new.empty():
                    self._reader.join(1)
                    return self.count(prefix) >= n
        return True

    def kill9(self) -> None:
        """SIGKILL: no cleanup, no DISCONNECT, exactly like a power cut for the broker."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(10)

    def wait(self, timeout_s: float) -> int:
        """Wait for a normal exit; kill and raise TimeoutError if it takes longer."""
        try:
            return self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.kill9()
            raise TimeoutError(f"device process did not exit in {timeout_s} s") from None

    def stderr_text(self) -> str:
        """What the process logged (for failure messages)."""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace")[-4000:]

    def close(self) -> None:
        """Kill the process if still running and release its pipes."""
        if self.proc.poll() is None:
            self.kill9()
        self._reader.join(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> "DeviceProcess":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
