"""End-to-end delivery: the cloud tells each robot which of its events it has stored.

A broker's PUBACK only says the broker took the message; the broker may still drop it (a full
queue for an offline cloud session). So the cloud publishes, per device, a retained
`StoredReport` on `dolbom/v1/devices/{id}/stored` after it commits events, and the robot keeps
each event until a report covers it, re-sending what is not covered in time.

Meaning of a report: for the outbox incarnation `epoch`, every seq `<= stored_up_to` is stored
except those inside a `missing` range. The cloud lists at most `MAX_MISSING_RANGES` ranges
(it lowers `stored_up_to` rather than list more), so a report is always small.
"""

import json

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from protocol.envelope import PROTOCOL_VERSION
from protocol.errors import ProtocolError

MAX_MISSING_RANGES = 32
MAX_STORED_REPORT_BYTES = 4096
_MAX_SEQ = 2**63 - 1


class StoredReport(BaseModel):
    """`{"v":1,"epoch":E,"stored_up_to":N,"missing":[[a,b],...]}`: what the cloud has stored."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    v: int = PROTOCOL_VERSION
    epoch: int = Field(ge=0, le=_MAX_SEQ, strict=True)
    stored_up_to: int = Field(ge=0, le=_MAX_SEQ, strict=True)
    missing: tuple[tuple[int, int], ...] = Field(default=(), max_length=MAX_MISSING_RANGES)

    @model_validator(mode="after")
    def _ranges_inside_and_ordered(self) -> "StoredReport":
        previous = 0
        for first, last in self.missing:
            if not previous < first <= last < self.stored_up_to:
                raise ValueError("missing ranges must be ordered, disjoint and below stored_up_to")
            previous = last
        return self

    def covers(self, seq: int) -> bool:
        """True when this report says event `seq` (of its epoch) is stored."""
        if seq > self.stored_up_to:
            return False
        return not any(first <= seq <= last for first, last in self.missing)


def encode_stored(report: StoredReport) -> bytes:
    """Compact UTF-8 JSON."""
    return report.model_dump_json().encode("utf-8")


def decode_stored(raw: bytes) -> StoredReport:
    """Parse and validate a report; raise ProtocolError with the reason."""
    if len(raw) > MAX_STORED_REPORT_BYTES:
        raise ProtocolError(f"stored report is {len(raw)} bytes; the limit is 4096")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ProtocolError("stored report is not JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError("stored report must be a JSON object")
    if data.get("v") != PROTOCOL_VERSION:
        raise ProtocolError(f"stored report: unsupported version {data.get('v')!r}")
    try:
        return StoredReport.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "report"
        raise ProtocolError(f"stored report: {where}: {first['msg']}") from None


# A robot that drops queued events on purpose (a consent withdrawal, the outbox's size cap)
# says so with a `device_fault` event {"component": "outbox", "code": SEQS_DROPPED_CODE,
# "detail": "12-40,57"}: the cloud then counts those seqs as settled instead of waiting for them.
SEQS_DROPPED_CODE = "seqs_dropped"
_MAX_DETAIL_CHARS = 200


def seq_ranges(seqs: list[int]) -> list[tuple[int, int]]:
    """Sorted seqs as inclusive (first, last) ranges."""
    ranges: list[tuple[int, int]] = []
    for seq in sorted(set(seqs)):
        if ranges and seq == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], seq)
        else:
            ranges.append((seq, seq))
    return ranges


def format_seq_ranges(ranges: list[tuple[int, int]]) -> list[str]:
    """`"1-5,9"` texts, each at most 200 characters (a device_fault detail), covering all."""
    texts: list[str] = []
    current = ""
    for first, last in ranges:
        part = str(first) if first == last else f"{first}-{last}"
        candidate = f"{current},{part}" if current else part
        if len(candidate) > _MAX_DETAIL_CHARS:
            texts.append(current)
            candidate = part
        current = candidate
    if current:
        texts.append(current)
    return texts


def parse_seq_ranges(text: str) -> list[tuple[int, int]]:
    """Inverse of format_seq_ranges; raises ProtocolError on anything else."""
    ranges: list[tuple[int, int]] = []
    for part in text.split(","):
        first, _, last = part.partition("-")
        if not first.isdigit() or (last and not last.isdigit()) or len(part) > 41:
            raise ProtocolError(f"not a seq range: {part[:50]!r}")
        a, b = int(first), int(last or first)
        if not 1 <= a <= b:
            raise ProtocolError(f"not a seq range: {part[:50]!r}")
        ranges.append((a, b))
    return ranges
