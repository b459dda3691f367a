"""Transcripts stay on the robot, and not for long: a JSON-lines file purged after retention.

Only the chat console's history reads it. Nothing here is ever sent: events carry counts,
durations and labels only.
"""

import json
import logging
import os
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from device.dialog.store import write_atomic

log = logging.getLogger(__name__)


class TranscriptLog:
    """Who said what and when, deleted after `retention`."""

    def __init__(self, path: Path, retention: timedelta) -> None:
        self.path = path
        self.retention = retention

    def add(self, who: str, text: str, at: datetime) -> None:
        """Append one line ("senior" or "robot"); a full disk loses the line, not the robot."""
        record = json.dumps({"at": at.isoformat(), "who": who, "text": text}, ensure_ascii=False)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                data = memoryview((record + "\n").encode("utf-8"))
                while data:  # os.write may take less than it is given
                    data = data[os.write(fd, data) :]
            finally:
                os.close(fd)
        except OSError as e:
            log.error("transcript line not kept: %s", e)

    def entries(self) -> list[dict[str, Any]]:
        """Every line still kept, oldest first (unreadable or zone-less lines are skipped)."""
        try:
            lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return []
        out = []
        for line in lines:
            try:
                entry = json.loads(line)
                if datetime.fromisoformat(entry["at"]).tzinfo is None:
                    continue  # not written by `add`: its age cannot be told, so it goes
            except (json.JSONDecodeError, KeyError, TypeError, ValueError):
                continue
            out.append(entry)
        return out

    def purge(self, now: datetime) -> int:
        """Delete lines older than the retention period (and unreadable ones); how many went."""
        try:
            raw_lines = self.path.read_text(encoding="utf-8").splitlines()
        except FileNotFoundError:
            return 0
        cutoff = now - self.retention
        kept = [e for e in self.entries() if datetime.fromisoformat(e["at"]) >= cutoff]
        removed = len(raw_lines) - len(kept)
        if removed:
            text = "".join(json.dumps(e, ensure_ascii=False) + "\n" for e in kept)
            write_atomic(self.path, text)
            log.info("deleted %d transcript line(s) older than %s", removed, self.retention)
        return removed
