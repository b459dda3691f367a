"""The pure escalation planner: policy + position + time → who to notify now and when next.

A policy is ordered tiers. Tier i starts when tier i-1's `timeout_s` runs out; inside a tier its
contacts are re-notified every `renotify_s`. The final tier never goes silent: it keeps
re-notifying (every `renotify_s`, else its `timeout_s`, else `DEFAULT_RENOTIFY_S`) until
someone acknowledges. Quiet hours hold non-critical alerts until the local morning.

A senior without a stored policy follows the built-in default (`default_config`): one tier of
all their contacts plus the configured webhooks, re-notified every `DEFAULT_RENOTIFY_S` until
acknowledged for critical and major alerts (minor and below: once).
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from cloud.errors import ConfigError
from cloud.store.models import Severity
from protocol.validation import describe_errors

DEFAULT_RENOTIFY_S = 300.0
_EPS_S = 0.001  # a step runs at its due time even when timestamps lost a microsecond


@dataclass(frozen=True, slots=True)
class Tier:
    """Contacts told together; `timeout_s` before the next tier, re-told every `renotify_s`."""

    contact_ids: tuple[int, ...]
    timeout_s: float
    renotify_s: float | None = None
    urls: tuple[str, ...] = ()  # webhooks told with the tier (the default policy's fallback)


@dataclass(frozen=True, slots=True)
class Policy:
    """Ordered tiers; `persistent`: the final tier keeps ringing until acknowledged."""

    tiers: tuple[Tier, ...]
    persistent: bool = True


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """One scheduled notification: the `attempt`-th (0 = first) notification of `tier`."""

    tier: int
    attempt: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Who to notify now (may be empty: not due yet), where that leaves us, and what is next."""

    notify: tuple[int, ...]
    position: Position | None
    next: Position | None
    next_due: datetime | None
    urls: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EscalationConfig:
    """A senior's stored policy: care tiers, and who hears about the robot itself."""

    care: Policy
    device_contact_ids: tuple[int, ...] = ()

    def for_device_alerts(self) -> Policy:
        """Device alerts go once to the device contacts (else the first care tier), no chase."""
        first = self.care.tiers[0]
        ids = self.device_contact_ids or first.contact_ids
        urls = () if self.device_contact_ids else first.urls
        return Policy((Tier(ids, timeout_s=0.0, urls=urls),), persistent=False)

    def for_severity(self, severity: Severity) -> Policy:
        """Critical and major alerts chase forever; minor and warning walk the tiers once; info
        goes to the first tier only."""
        if severity in (Severity.CRITICAL, Severity.MAJOR, Severity.HIGH):
            return self.care
        if severity is Severity.INFO:
            first = self.care.tiers[0]
            return Policy((Tier(first.contact_ids, 0.0, urls=first.urls),), persistent=False)
        return Policy(self.care.tiers, persistent=False)


def default_config(contact_ids: Sequence[int], urls: Sequence[str] = ()) -> EscalationConfig:
    """The built-in policy of a senior without one: every contact and webhook at once, again
    every `DEFAULT_RENOTIFY_S` until acknowledged (critical and major alerts)."""
    return EscalationConfig(
        Policy((Tier(tuple(contact_ids), 0.0, DEFAULT_RENOTIFY_S, tuple(urls)),))
    )


ContactId = Annotated[int, Field(strict=True, gt=0)]
Seconds = Annotated[float, Field(ge=0, le=30 * 86_400, allow_inf_nan=False)]


class _TierDoc(BaseModel):
    """One stored tier (cloud.api.schemas.TierIn writes them)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    contact_ids: list[ContactId] = Field(min_length=1, max_length=50)
    timeout_s: Seconds = 0.0
    renotify_s: Seconds | None = None


class _PolicyDoc(BaseModel):
    """A stored policy: `{"tiers": [...], "device_contact_ids": [...]}`."""

    model_config = ConfigDict(extra="forbid", strict=True)
    tiers: list[_TierDoc] = Field(min_length=1, max_length=20)
    device_contact_ids: list[ContactId] | None = Field(default=None, max_length=50)


def parse_policy(
    doc: Mapping[str, Any] | Sequence[Any], source: str = "escalation policy"
) -> EscalationConfig:
    """Validate `EscalationPolicy.tiers`: `{"tiers": [{"contact_ids", "timeout_s", "renotify_s"}],
    "device_contact_ids": [...]}` (a bare list of tiers is accepted too); ConfigError names
    each wrong key and why, in Korean and English."""
    raw = {"tiers": list(doc)} if isinstance(doc, list) else doc
    try:
        parsed = _PolicyDoc.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(describe_errors(e, source)) from None
    tiers = tuple(
        Tier(
            tuple(t.contact_ids), float(t.timeout_s), float(t.renotify_s) if t.renotify_s else None
        )
        for t in parsed.tiers
    )
    return EscalationConfig(Policy(tiers), tuple(parsed.device_contact_ids or ()))


def _renotify_s(policy: Policy, tier: int) -> float | None:
    t = policy.tiers[tier]
    if tier == len(policy.tiers) - 1 and policy.persistent:
        return t.renotify_s or t.timeout_s or DEFAULT_RENOTIFY_S
    return t.renotify_s


def _tier_start_s(policy: Policy, tier: int) -> float:
    return sum(t.timeout_s for t in policy.tiers[:tier])


def offset_s(policy: Policy, pos: Position) -> float:
    """Seconds from the start of the escalation to the notification at `pos`."""
    return _tier_start_s(policy, pos.tier) + pos.attempt * (_renotify_s(policy, pos.tier) or 0.0)


def following(policy: Policy, pos: Position) -> Position | None:
    """The notification scheduled after `pos`, or None when the escalation ends there."""
    last = len(policy.tiers) - 1
    every = _renotify_s(policy, pos.tier)
    if pos.tier == last:
        return Position(pos.tier, pos.attempt + 1) if policy.persistent and every else None
    if every and (pos.attempt + 1) * every < policy.tiers[pos.tier].timeout_s:
        return Position(pos.tier, pos.attempt + 1)
    return Position(pos.tier + 1, 0)


def position_at(policy: Policy, elapsed_s: float) -> Position:
    """The latest scheduled notification at or before `elapsed_s` into the escalation."""
    start = 0.0
    last = len(policy.tiers) - 1
    for i, t in enumerate(policy.tiers):
        if i == last or elapsed_s < start + t.timeout_s:
            every = _renotify_s(policy, i)
            attempt = int((elapsed_s - start) // every) if every and elapsed_s > start else 0
            if i == last and not policy.persistent:
                attempt = 0
            return Position(i, attempt)
        start += t.timeout_s
    raise AssertionError("unreachable: the last tier always matches")


def clamp(policy: Policy, pos: Position) -> Position:
    """`pos` made valid for `policy` (a policy may shrink mid-escalation)."""
    if pos.tier < len(policy.tiers):
        return pos
    return Position(len(policy.tiers) - 1, 0)


def plan(policy: Policy, due: Position, due_at: datetime, now: datetime) -> Plan:
    """Execute the pending step `due` (scheduled for `due_at`) at `now`.

    The escalation's clock starts `offset_s(due)` before `due_at`, so a postponed step (quiet
    hours) shifts the rest of the schedule with it. A step run late catches up: it notifies every
    tier it passed (nobody in the chain is skipped), but only once each.
    """
    due = clamp(policy, due)
    start = due_at - timedelta(seconds=offset_s(policy, due))
    elapsed = (now - start).total_seconds()
    if offset_s(policy, due) > elapsed + _EPS_S:
        return Plan((), None, due, due_at)
    current = max(due, position_at(policy, elapsed + _EPS_S))
    notify: list[int] = []
    urls: list[str] = []
    for tier in range(due.tier, current.tier + 1):
        notify.extend(i for i in policy.tiers[tier].contact_ids if i not in notify)
        urls.extend(u for u in policy.tiers[tier].urls if u not in urls)
    nxt = following(policy, current)
    next_due = start + timedelta(seconds=offset_s(policy, nxt)) if nxt is not None else None
    return Plan(tuple(notify), current, nxt, next_due, tuple(urls))


def _hhmm(value: str, what: str) -> time:
    try:
        hours, minutes = value.split(":")
        return time(int(hours), int(minutes))
    except ValueError as e:
        raise ConfigError(f"{what} must be 'HH:MM', got {value!r}") from e


def zone(name: str) -> ZoneInfo:
    """The IANA time zone `name`, or a ConfigError naming it."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as e:
        raise ConfigError(f"unknown time zone {name!r}") from e


def quiet_until(
    start: str | None, end: str | None, tz: str, severity: Severity, now: datetime
) -> datetime | None:
    """When quiet hours covering `now` end (UTC), or None: not quiet, or critical (never held)."""
    if severity is Severity.CRITICAL or not start or not end:
        return None
    begin, finish = _hhmm(start, "quiet_hours_start"), _hhmm(end, "quiet_hours_end")
    if begin == finish:
        return None
    local = now.astimezone(zone(tz))
    t = local.time().replace(tzinfo=None)
    # A window like 22:00-07:00 wraps past midnight.
    quiet = begin <= t < finish if begin < finish else t >= begin or t < finish
    if not quiet:
        return None
    day = local.date() if t < finish else local.date() + timedelta(days=1)
    release = datetime.combine(day, finish, tzinfo=local.tzinfo)
    return release.astimezone(UTC)
