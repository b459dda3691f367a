"""Consent on the robot: hold back events of streams the senior did not consent to, and purge.

`ConsentFilter` is consulted before an event enters the outbox. Its state is the last
`consent` command from the cloud, kept in `<data_dir>/consent.json` (written atomically, so a
power cut leaves the old or the new state, never half of one). A robot that never got a
consent command is in no study and sends everything; safety events (emergency, fall, no
response, inactivity, device faults, heartbeat, battery) are never held back.

`PrivacyStage` handles the `consent` and `data_deletion` commands: a deletion drops the
withdrawn streams' events still queued in the outbox and every local transcript under
`<data_dir>/transcripts/` (where the dialog keeps them).
"""

import logging
import os
import shutil
import threading
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from device.errors import DeviceError
from device.outbox import Outbox
from device.stages import StageContext
from protocol import Command, CommandResult, CommandType, EventType
from protocol.consent import (
    NEVER_FILTERED,
    STREAM_OF_EVENT,
    ConsentCommandPayload,
    DataDeletionPayload,
    DataStream,
    event_types_of,
)
from protocol.events import SelfTest

log = logging.getLogger(__name__)

CONSENT_FILE = "consent.json"
TRANSCRIPTS_DIR = "transcripts"
VOICE_BASELINE = Path("mood") / "voice_baseline.json"  # what the mood stage learnt of the voice


class ConsentFilter:
    """Which event types may leave the robot, per the last consent received (thread-safe)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._streams: dict[DataStream, bool] | None = None
        self._form_version: str | None = None
        self._study_id: str | None = None
        self._load()

    @classmethod
    def in_dir(cls, data_dir: Path) -> "ConsentFilter":
        """The filter persisted in the robot's data folder."""
        return cls(data_dir / CONSENT_FILE)

    def _load(self) -> None:
        try:
            raw = self.path.read_text("utf-8")
        except FileNotFoundError:
            return
        except OSError as e:
            raise DeviceError(f"cannot read the consent file {self.path}: {e}") from None
        try:
            state = ConsentCommandPayload.model_validate_json(raw)
        except ValidationError:
            # Unreadable consent must not leak data: hold back every filterable stream.
            log.error("consent file %s is unreadable; every research stream is held", self.path)
            self._streams = dict.fromkeys(DataStream, False)
            return
        self._apply(state)

    def _apply(self, state: ConsentCommandPayload) -> None:
        self._streams = {s: bool(state.streams.get(s, False)) for s in DataStream}
        self._form_version = state.form_version
        self._study_id = state.study_id

    @property
    def in_study(self) -> bool:
        """A consent was ever received (the robot is in a study)."""
        with self._lock:
            return self._streams is not None

    def granted(self) -> dict[DataStream, bool] | None:
        """The current consent per stream, or None when in no study."""
        with self._lock:
            return None if self._streams is None else dict(self._streams)

    def allows(self, event_type: EventType) -> bool:
        """May an event of this type be sent?"""
        if event_type in NEVER_FILTERED:
            return True
        stream = STREAM_OF_EVENT.get(event_type)
        if stream is None:
            return True
        with self._lock:
            return self._streams is None or self._streams.get(stream, False)

    def update(self, state: ConsentCommandPayload) -> None:
        """Apply and persist a consent command (atomic replace, fsynced)."""
        data = state.model_dump_json(indent=2).encode("utf-8")
        tmp = self.path.with_suffix(".json.tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except OSError as e:
            raise DeviceError(f"cannot write the consent file {self.path}: {e}") from None
        with self._lock:
            self._apply(state)


def purge_transcripts(data_dir: Path) -> int:
    """Delete every file under `<data_dir>/transcripts/`; returns how many were removed."""
    folder = data_dir / TRANSCRIPTS_DIR
    if not folder.exists():
        return 0
    count = sum(1 for p in folder.rglob("*") if p.is_file())
    shutil.rmtree(folder)
    folder.mkdir(parents=True, exist_ok=True)
    return count


class PrivacyStage:
    """Handles `consent` and `data_deletion` commands from the cloud."""

    name = "privacy"

    def __init__(
        self,
        data_dir: Path,
        device_id: str,
        *,
        outbox_path: Path | None = None,
        consent: ConsentFilter | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.device_id = device_id
        self.outbox_path = outbox_path or data_dir / "outbox.sqlite3"
        self.filter = consent or ConsentFilter.in_dir(data_dir)
        self._ctx: StageContext | None = None
        self._last_error = ""

    def start(self, ctx: StageContext) -> None:
        self._ctx = ctx

    def handle(self, item: object, now_s: float) -> None:
        return None

    def tick(self, now_s: float) -> None:
        return None

    def on_command(self, command: Command) -> CommandResult | None:
        if command.type is CommandType.CONSENT:
            return self._consent(command)
        if command.type is CommandType.DATA_DELETION:
            return self._deletion(command)
        return None

    def _result(self, command: Command, ok: bool, detail: str) -> CommandResult:
        ts = self._ctx.clock.now() if self._ctx is not None else command.ts
        return CommandResult(
            command_id=command.command_id, device_id=self.device_id, ts=ts, ok=ok, detail=detail
        )

    def _consent(self, command: Command) -> CommandResult:
        try:
            state = ConsentCommandPayload.model_validate(command.payload)
        except ValidationError as e:
            return self._result(command, False, f"invalid consent payload: {_first(e)}")
        try:
            self.filter.update(state)
        except DeviceError as e:
            self._last_error = str(e)
            return self._result(command, False, str(e))
        held = sorted(s.value for s, ok in state.streams.items() if not ok)
        log.info("consent %s applied; held streams: %s", state.form_version, held or "none")
        return self._result(command, True, f"consent {state.form_version} applied")

    def _deletion(self, command: Command) -> CommandResult:
        try:
            order = DataDeletionPayload.model_validate(command.payload)
        except ValidationError as e:
            return self._result(command, False, f"invalid data_deletion payload: {_first(e)}")
        types = event_types_of(set(order.streams))
        try:
            with Outbox(self.outbox_path, self.device_id) as outbox:
                purged = outbox.purge(types)
            files = purge_transcripts(self.data_dir) if order.transcripts else 0
            voice = DataStream.MOOD in order.streams and _unlink(self.data_dir / VOICE_BASELINE)
        except (DeviceError, OSError) as e:
            self._last_error = str(e)
            return self._result(command, False, f"data deletion failed: {e}"[:500])
        detail = f"purged {purged} queued events and {files} transcript files"
        if voice:
            detail += " and the learnt voice baseline"
        log.info("data deletion (%s): %s", order.reason, detail)
        return self._result(command, True, detail)

    def self_tests(self) -> list[SelfTest]:
        return [SelfTest(name="privacy", ok=not self._last_error, detail=self._last_error[:200])]

    def stop(self) -> None:
        return None


def _unlink(path: Path) -> bool:
    """Delete a file; True when there was one."""
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True


def _first(e: ValidationError) -> str:
    err: dict[str, Any] = dict(e.errors()[0])
    where = ".".join(str(p) for p in err.get("loc", ())) or "payload"
    return f"{where}: {err.get('msg', 'invalid')}"[:200]
