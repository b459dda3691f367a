"""The dialog's files in the robot's data dir: its state and the schedule, written atomically.

A power cut mid-write leaves the previous file whole (write a temporary file, fsync, rename).
A file that cannot be read is moved aside (never deleted) and the robot starts fresh.
"""

import json
import logging
import os
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from device.errors import DeviceError
from protocol.commands import SchedulePayload

log = logging.getLogger(__name__)


class DialogStoreError(DeviceError):
    """The dialog's folder cannot be created or written."""


def write_atomic(path: Path, text: str) -> None:
    """Replace `path` with `text` so that a crash leaves either the old or the new file."""
    tmp = path.with_name(f".{path.name}.tmp")
    data = memoryview(text.encode("utf-8"))
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while data:  # os.write may take less than it is given
            data = data[os.write(fd, data) :]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    try:  # the rename itself must survive a power cut too
        folder = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass  # some file systems cannot sync a folder; the rename still happened
    finally:
        os.close(folder)


class DialogStore:
    """state.json (what the companion remembers) and schedule.json (what the cloud sent)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()  # the schedule is written from the link's thread
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise DialogStoreError(f"cannot create the dialog folder {folder}: {e}") from None

    @property
    def state_path(self) -> Path:
        """The companion's memory."""
        return self.folder / "state.json"

    @property
    def schedule_path(self) -> Path:
        """The last schedule from the cloud, merged."""
        return self.folder / "schedule.json"

    def _read(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            self._set_aside(path, str(e))
            return None

    def _set_aside(self, path: Path, why: str) -> None:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        aside = path.with_name(f"{path.name}.bad-{stamp}")
        log.error("%s cannot be read (%s); kept as %s, starting fresh", path, why, aside)
        try:
            path.replace(aside)
        except OSError:
            log.exception("could not move %s aside", path)

    def load_state(self) -> dict[str, Any] | None:
        """The saved state, or None (first start, or an unreadable file set aside)."""
        raw = self._read(self.state_path)
        if raw is not None and not isinstance(raw, dict):
            self._set_aside(self.state_path, "not a JSON object")
            return None
        return raw

    def set_aside_state(self, why: str) -> None:
        """Keep a state file that could not be restored beside the fresh one (never lost)."""
        if self.state_path.exists():
            self._set_aside(self.state_path, why)

    def save_state(self, state: dict[str, Any]) -> None:
        """Write the state atomically."""
        try:
            write_atomic(self.state_path, json.dumps(state, ensure_ascii=False, sort_keys=True))
        except OSError as e:
            raise DialogStoreError(f"cannot write {self.state_path}: {e}") from None

    def load_schedule(self) -> SchedulePayload | None:
        """The saved schedule, or None."""
        raw = self._read(self.schedule_path)
        if raw is None:
            return None
        try:
            return SchedulePayload.model_validate(raw)
        except ValidationError as e:
            self._set_aside(self.schedule_path, str(e.errors()[0]["msg"]))
            return None

    def merge_schedule(self, update: SchedulePayload) -> SchedulePayload:
        """Merge a schedule command into the saved one (absent parts kept) and save it."""
        with self._lock:
            old = self.load_schedule() or SchedulePayload()
            merged = SchedulePayload(
                timezone=update.timezone or old.timezone,
                reminders=update.reminders if update.reminders is not None else old.reminders,
                screenings=(update.screenings if update.screenings is not None else old.screenings),
            )
            try:
                write_atomic(self.schedule_path, merged.model_dump_json())
            except OSError as e:
                raise DialogStoreError(f"cannot write {self.schedule_path}: {e}") from None
            return merged
