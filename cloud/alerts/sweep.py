"""The periodic sweep, pure: which devices are offline, which seniors are inactive too long."""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from cloud.alerts.rules import DEFAULT_RULES, RuleSettings
from cloud.store.models import AlertKind


@dataclass(frozen=True, slots=True)
class DeviceSnapshot:
    """What the sweep needs to know about one device (read from its row and recent events)."""

    device_id: str
    online: bool
    first_seen: datetime
    last_seen: datetime
    last_status_at: datetime | None
    last_heartbeat_at: datetime | None
    failed_self_tests: tuple[str, ...]
    last_life_sign_at: datetime | None
    settings: RuleSettings = DEFAULT_RULES


@dataclass(frozen=True, slots=True)
class Finding:
    """Open (`active=True`) or clear (`active=False`) an alert of `kind` for a device."""

    device_id: str
    kind: AlertKind
    active: bool
    note: str


def is_offline(d: DeviceSnapshot, now: datetime) -> bool:
    """True when the device's heartbeat stopped or its last will said offline a while ago."""
    last_beat = d.last_heartbeat_at or d.first_seen
    if now - last_beat >= timedelta(seconds=d.settings.offline_after_s):
        return True
    went_offline = d.last_status_at or d.last_seen
    return not d.online and now - went_offline >= timedelta(seconds=d.settings.offline_grace_s)


def is_healthy(d: DeviceSnapshot, now: datetime) -> bool:
    """True when the device can be trusted to notice the senior: online, beating, self-tests ok."""
    return (
        d.online
        and d.last_heartbeat_at is not None
        and now - d.last_heartbeat_at < timedelta(seconds=d.settings.offline_after_s)
        and not d.failed_self_tests
    )


def sweep(devices: Sequence[DeviceSnapshot], now: datetime) -> list[Finding]:
    """Device-offline and inactivity findings for every device at `now`."""
    findings: list[Finding] = []
    for d in devices:
        offline = is_offline(d, now)
        findings.append(
            Finding(
                d.device_id,
                AlertKind.DEVICE_OFFLINE,
                offline,
                "no heartbeat or status from the robot" if offline else "the robot is back",
            )
        )
        if not is_healthy(d, now):
            continue  # a silent or faulty robot cannot tell inactivity from a broken sensor
        since = d.last_life_sign_at or d.first_seen
        idle_h = (now - since).total_seconds() / 3600
        inactive = idle_h >= d.settings.inactivity_hours
        if inactive:
            note = f"no presence, touch or voice for {idle_h:.1f} h"
            findings.append(Finding(d.device_id, AlertKind.INACTIVITY, True, note))
        elif d.last_life_sign_at is not None:
            findings.append(Finding(d.device_id, AlertKind.INACTIVITY, False, "senior active"))
    return findings
