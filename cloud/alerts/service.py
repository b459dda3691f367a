"""The alert engine: rules applied to events and sweeps; alerts opened, deduped, escalated."""

import logging
import threading
from collections.abc import Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import ARRAY, ColumnElement, String, any_, bindparam, select
from sqlalchemy.orm import Session

from cloud.alerts import lifecycle, scheduler
from cloud.alerts.lifecycle import record_transition
from cloud.alerts.rules import (
    CONDITION_KINDS,
    LIFE_SIGN_TYPES,
    SEVERITY_OF,
    AlertDecision,
    MoodSample,
    MoodVerdict,
    RuleSettings,
    assess_mood,
    cancels,
    clears,
    decide,
    is_life_sign,
    missed_in_a_row,
)
from cloud.alerts.sweep import DeviceSnapshot, sweep
from cloud.errors import AlertNotFoundError, CloudError, ConfigError, both
from cloud.store.db import dialect_insert
from cloud.store.models import (
    ACTIVE_ALERT_STATUSES,
    Alert,
    AlertKind,
    AlertStatus,
    AlertTransition,
    Device,
    Event,
    Senior,
)
from protocol import Envelope, EventType

log = logging.getLogger(__name__)

WEBHOOK_CHANNEL = scheduler.WEBHOOK_CHANNEL
MEDICATION_REMINDER_KINDS = frozenset({"medicine", "medication"})
_UNRESOLVED = (*ACTIVE_ALERT_STATUSES, AlertStatus.ACKNOWLEDGED)

__all__ = ["AlertChange", "AlertEngine", "record_transition"]


@dataclass(frozen=True, slots=True)
class AlertChange:
    """What an event did to an alert: opened it, repeated it, or closed it (`status`)."""

    alert_id: int
    created: bool
    repeat_count: int
    status: AlertStatus = AlertStatus.OPEN


def _among(column: Any, ids: list[str], pg: bool) -> ColumnElement[bool]:
    """`column IN (...)`; on PostgreSQL `column = ANY(array)`, one bound value."""
    if pg:
        return cast(ColumnElement[bool], column == any_(bindparam(None, ids, ARRAY(String))))
    return cast(ColumnElement[bool], column.in_(ids))


@dataclass(slots=True)
class _Prefetched:
    """What a batch looked up once for its devices: rule settings, unresolved alert kinds, and
    the senior of each robot already stored (a new robot is not in `senior_ids`)."""

    settings: dict[str, RuleSettings] = field(default_factory=dict)
    unresolved: dict[str, set[AlertKind]] = field(default_factory=dict)
    senior_ids: dict[str, str | None] = field(default_factory=dict)


class AlertEngine:
    """Turns rule decisions into stored alerts, transitions and escalation steps."""

    def __init__(self, webhook_urls: Sequence[str] = ()) -> None:
        self.webhook_urls = tuple(webhook_urls)
        self._local = threading.local()  # the batch in progress on this thread, if any

    @contextmanager
    def prefetched(
        self,
        session: Session,
        device_ids: Collection[str],
        *,
        seniors: bool = False,
    ) -> Iterator[None]:
        """Within this block, `on_event` for these devices asks the store nothing it need not.

        One query for the whole batch (the robots, their seniors' rule settings and their
        unresolved alert kinds) replaces the three a plain event (a heartbeat, a touch) costs
        on its own and the senior look-up of an alert it opens; a kind this batch raises is
        noted, so a later event of the batch still clears it. Same transaction, same answers.
        `seniors` says the robots' rows are locked already (they cannot change before the
        commit), so an alert opened in the block is opened for the senior read here instead of
        asking again (see also `note_senior`).
        """
        known = _Prefetched()
        ids = sorted(set(device_ids))
        pg = session.get_bind().dialect.name == "postgresql"
        step = len(ids) or 1 if pg else 500  # PostgreSQL: one array parameter, not N
        for start in range(0, len(ids), step):
            chunk = ids[start : start + step]
            query = (
                select(Device.id, Device.senior_id, Senior, Alert.kind)
                .outerjoin(Senior, Senior.id == Device.senior_id)
                .outerjoin(Alert, (Alert.device_id == Device.id) & Alert.status.in_(_UNRESOLVED))
                .where(_among(Device.id, chunk, pg))
            )
            linked: dict[str, Senior | None] = {}
            for device_id, senior_id, senior, kind in session.execute(query):
                linked[device_id] = senior
                if seniors:
                    known.senior_ids[device_id] = senior_id
                if kind is not None:
                    known.unresolved.setdefault(device_id, set()).add(kind)
            for device_id in chunk:
                try:
                    known.settings[device_id] = RuleSettings.from_senior(linked.get(device_id))
                except ConfigError as e:
                    log.error("%s; using the default rule settings", e)
                    known.settings[device_id] = RuleSettings()
        previous = getattr(self._local, "known", None)
        self._local.known = known
        try:
            yield
        finally:
            self._local.known = previous

    def note_senior(self, device_id: str, senior_id: str | None) -> None:
        """The robot's row, locked by this transaction, belongs to `senior_id`: an alert opened
        for it in the batch in hand need not ask the store again."""
        known = self._known()
        if known is not None:
            known.senior_ids[device_id] = senior_id

    def _known(self) -> _Prefetched | None:
        known: _Prefetched | None = getattr(self._local, "known", None)
        return known

    # --- events -------------------------------------------------------------------------

    def on_event(self, session: Session, envelope: Envelope, now: datetime) -> AlertChange | None:
        """Apply every rule to a newly stored event (the event row is already in the session)."""
        device_id = envelope.device_id
        known = self._known()
        cached = known.settings.get(device_id) if known is not None else None
        settings = cached if cached is not None else self.settings_for(session, device_id)
        unresolved = known.unresolved.get(device_id, set()) if known and cached else None
        changes: list[AlertChange] = []
        cancelled = cancels(envelope)
        if cancelled is not None:
            changes += self.cancel_kind(session, device_id, cancelled, now)
        for kind in sorted(clears(envelope, settings)):
            if unresolved is not None and kind not in unresolved:
                continue  # prefetched: nothing of this kind is unresolved for the device
            changes += self.clear_kind(session, device_id, kind, now, "the condition ended")
        raised: AlertChange | None = None
        decision = decide(envelope, settings)
        if decision is not None:
            raised = self.raise_alert(session, device_id, decision, envelope.seq, now)
        if envelope.type is EventType.REMINDER:
            raised = self._check_medication(session, envelope, settings, now) or raised
        if envelope.type is EventType.MOOD:
            raised = self._check_mood(session, envelope, settings, now) or raised
        return raised or (changes[0] if changes else None)

    def settings_for(self, session: Session, device_id: str) -> RuleSettings:
        """The rule settings of the senior this device belongs to (defaults if none or invalid)."""
        senior = self._senior_of(session, device_id)
        try:
            return RuleSettings.from_senior(senior)
        except ConfigError as e:
            log.error("%s; using the default rule settings", e)
            return RuleSettings()

    def _senior_of(self, session: Session, device_id: str) -> Senior | None:
        senior_id = session.scalar(select(Device.senior_id).where(Device.id == device_id))
        return session.get(Senior, senior_id) if senior_id is not None else None

    def _check_medication(
        self, session: Session, envelope: Envelope, settings: RuleSettings, now: datetime
    ) -> AlertChange | None:
        if envelope.payload.get("kind") not in MEDICATION_REMINDER_KINDS:
            return None
        rows = session.scalars(
            select(Event.payload)
            .where(Event.device_id == envelope.device_id, Event.type == EventType.REMINDER.value)
            .order_by(Event.ts.desc(), Event.seq.desc())
            .limit(200)
        )
        statuses = [
            str(p.get("status")) for p in rows if p.get("kind") in MEDICATION_REMINDER_KINDS
        ]
        if not missed_in_a_row(statuses, settings.missed_medication_threshold):
            return None
        decision = AlertDecision(
            AlertKind.MISSED_MEDICATION, SEVERITY_OF[AlertKind.MISSED_MEDICATION]
        )
        return self.raise_alert(session, envelope.device_id, decision, envelope.seq, now)

    def _check_mood(
        self, session: Session, envelope: Envelope, settings: RuleSettings, now: datetime
    ) -> AlertChange | None:
        at = envelope.ts
        since = at - timedelta(days=settings.mood_window_days + settings.mood_baseline_days)
        rows = session.execute(
            select(Event.ts, Event.payload).where(
                Event.device_id == envelope.device_id,
                Event.type == EventType.MOOD.value,
                Event.ts > since,
            )
        ).all()
        samples = [
            MoodSample(
                datetime.fromisoformat(str(p.get("period_end", ts.isoformat()))),
                float(p["valence"]),
            )
            for ts, p in rows
        ]
        declined = self._find(session, envelope.device_id, AlertKind.MOOD_DECLINE, _UNRESOLVED)
        result = assess_mood(samples, at, declined is not None, settings)
        if result.verdict is MoodVerdict.CLEAR:
            note = f"week mean {result.week_mean:.2f}, baseline {result.baseline:.2f}"
            changes = self.clear_kind(
                session, envelope.device_id, AlertKind.MOOD_DECLINE, now, note
            )
            return changes[0] if changes else None
        if result.verdict is MoodVerdict.RAISE:
            decision = AlertDecision(AlertKind.MOOD_DECLINE, SEVERITY_OF[AlertKind.MOOD_DECLINE])
            note = f"week mean {result.week_mean:.2f}, baseline {result.baseline:.2f}"
            return self.raise_alert(
                session, envelope.device_id, decision, envelope.seq, now, note=note
            )
        return None

    # --- the periodic sweep ---------------------------------------------------------------

    def sweep(self, session: Session, now: datetime) -> list[AlertChange]:
        """Check every device for offline and inactivity; open or clear those alerts."""
        snapshots = []
        for device in session.scalars(select(Device).order_by(Device.id)):
            senior = session.get(Senior, device.senior_id) if device.senior_id else None
            try:
                settings = RuleSettings.from_senior(senior)
            except ConfigError as e:
                log.error("%s; using the default rule settings", e)
                settings = RuleSettings()
            beat = device.last_heartbeat or {}
            snapshots.append(
                DeviceSnapshot(
                    device_id=device.id,
                    online=device.online,
                    first_seen=device.first_seen,
                    last_seen=device.last_seen,
                    last_status_at=device.last_status_at,
                    last_heartbeat_at=device.last_heartbeat_at,
                    failed_self_tests=tuple(beat.get("failed_self_tests", ()) or ()),
                    last_life_sign_at=self._last_life_sign(session, device.id),
                    settings=settings,
                )
            )
        changes: list[AlertChange] = []
        for finding in sweep(snapshots, now):
            if finding.active:
                decision = AlertDecision(finding.kind, SEVERITY_OF[finding.kind])
                existing = self._find(session, finding.device_id, finding.kind, _UNRESOLVED)
                if existing is None:
                    changes.append(
                        self.raise_alert(
                            session,
                            finding.device_id,
                            decision,
                            0,
                            now,
                            actor="sweep",
                            channel="sweep",
                            note=finding.note,
                        )
                    )
            else:
                changes += self.clear_kind(
                    session, finding.device_id, finding.kind, now, finding.note
                )
        return changes

    def _last_life_sign(self, session: Session, device_id: str) -> datetime | None:
        rows = session.execute(
            select(Event.type, Event.ts, Event.payload)
            .where(Event.device_id == device_id, Event.type.in_(LIFE_SIGN_TYPES))
            .order_by(Event.ts.desc())
            .limit(200)
        )
        for event_type, ts, payload in rows:
            if is_life_sign(event_type, payload):
                found: datetime = ts
                return found
        return None

    # --- opening, repeating, closing --------------------------------------------------------

    def raise_alert(
        self,
        session: Session,
        device_id: str,
        decision: AlertDecision,
        event_seq: int,
        now: datetime,
        *,
        actor: str | None = None,
        channel: str = "mqtt",
        note: str | None = None,
    ) -> AlertChange:
        """Open an alert, or count a repeat when one of the same kind is still active.

        Opening is one `INSERT ... ON CONFLICT DO NOTHING RETURNING` (the unique index allows one
        open or notified alert per robot and kind): a conflict means another transaction opened
        it meanwhile, and this one counts a repeat. Inside a batch that found no unresolved
        alert of the kind for the robot, the insert comes first, without a look-up.
        """
        actor = actor or f"device:{device_id}"
        known = self._known()
        statuses = _UNRESOLVED if decision.kind in CONDITION_KINDS else ACTIVE_ALERT_STATUSES
        fresh = (
            known is not None
            and device_id in known.settings
            and decision.kind not in known.unresolved.get(device_id, set())
        )
        if known is not None:
            known.unresolved.setdefault(device_id, set()).add(decision.kind)
        active = None if fresh else self._find(session, device_id, decision.kind, statuses)
        for _ in range(3):  # an alert acknowledged between the conflict and the look-up
            if active is not None:
                break
            if known is not None and device_id in known.senior_ids:
                senior_id = known.senior_ids[device_id]
            else:
                senior_id = session.scalar(select(Device.senior_id).where(Device.id == device_id))
            alert = self._open(session, device_id, decision, event_seq, senior_id, now)
            if alert is not None:
                session.add(
                    AlertTransition(
                        alert_id=alert.id,
                        from_status=None,
                        to_status=AlertStatus.OPEN,
                        at=now,
                        actor=actor,
                        channel=channel,
                        note=note or f"event seq {event_seq}",
                    )
                )
                session.flush()
                scheduler.start(session, alert, now, self.webhook_urls)
                log.warning(
                    "alert %d opened: %s (%s) for %s",
                    alert.id,
                    alert.kind,
                    alert.severity,
                    device_id,
                )
                return AlertChange(alert_id=alert.id, created=True, repeat_count=1)
            # Another worker opened it since our look-up: count a repeat.
            active = self._find(session, device_id, decision.kind, statuses)
        if active is None:
            raise CloudError(f"alert {decision.kind} for {device_id}: neither opened nor found")
        active.repeat_count += 1
        record_transition(
            session,
            active,
            active.status,
            now,
            actor=actor,
            channel=channel,
            note=f"repeat {active.repeat_count} (event seq {event_seq})",
        )
        told = scheduler.renotify(session, active, now, self.webhook_urls)
        log.info(
            "alert %d repeated (%d times; %d notified again)", active.id, active.repeat_count, told
        )
        return AlertChange(
            alert_id=active.id,
            created=False,
            repeat_count=active.repeat_count,
            status=active.status,
        )

    def _open(
        self,
        session: Session,
        device_id: str,
        decision: AlertDecision,
        event_seq: int,
        senior_id: str | None,
        now: datetime,
    ) -> Alert | None:
        """Insert an open alert; None when one of its robot and kind is already open."""
        stmt = (
            dialect_insert(session, Alert)
            .values(
                device_id=device_id,
                kind=decision.kind,
                severity=decision.severity,
                status=AlertStatus.OPEN,
                event_seq=event_seq,
                created_at=now,
                updated_at=now,
                repeat_count=1,
                revision=1,
                senior_id=senior_id,
                tier=0,
            )
            .on_conflict_do_nothing()
            .returning(Alert)
        )
        return session.scalars(stmt).one_or_none()

    def cancel_kind(
        self, session: Session, device_id: str, kind: AlertKind, now: datetime
    ) -> list[AlertChange]:
        """The senior said "I'm fine": cancel the open alerts of `kind` on this device."""
        changes = []
        for alert in self._all(session, device_id, kind, ACTIVE_ALERT_STATUSES):
            lifecycle.cancel(session, alert, f"device:{device_id}", now)
            changes.append(AlertChange(alert.id, False, alert.repeat_count, alert.status))
        return changes

    def clear_kind(
        self, session: Session, device_id: str, kind: AlertKind, now: datetime, note: str
    ) -> list[AlertChange]:
        """A condition ended: expire its open alert, or resolve it when someone acknowledged it."""
        if kind not in CONDITION_KINDS:
            return []
        changes = []
        for alert in self._all(session, device_id, kind, _UNRESOLVED):
            if alert.status is AlertStatus.ACKNOWLEDGED:
                lifecycle.resolve(session, alert, "system", note, now)
            else:
                lifecycle.expire(session, alert, now)
            changes.append(AlertChange(alert.id, False, alert.repeat_count, alert.status))
        return changes

    def acknowledge(
        self, session: Session, alert_id: int, by: str, now: datetime, *, channel: str = "api"
    ) -> Alert:
        """Mark an open or notified alert acknowledged by `by` (see `lifecycle.acknowledge`)."""
        alert = session.scalars(
            select(Alert).where(Alert.id == alert_id).with_for_update()
        ).one_or_none()
        if alert is None:
            raise AlertNotFoundError(
                both(f"id가 {alert_id}인 알림이 없습니다", f"no alert with id {alert_id}")
            )
        lifecycle.acknowledge(session, alert, by, channel, now)
        return alert

    def mark_notified(
        self, session: Session, alert_id: int, now: datetime, *, channel: str, target: str
    ) -> None:
        """Record that someone was told; an open alert becomes notified."""
        alert = session.get(Alert, alert_id, with_for_update=True)
        if alert is not None and alert.status is AlertStatus.OPEN:
            record_transition(
                session,
                alert,
                AlertStatus.NOTIFIED,
                now,
                actor="dispatcher",
                channel=channel,
                note=target[:500],
            )

    def _all(
        self,
        session: Session,
        device_id: str,
        kind: AlertKind,
        statuses: Sequence[AlertStatus],
    ) -> list[Alert]:
        return list(
            session.scalars(
                select(Alert)
                .where(
                    Alert.device_id == device_id,
                    Alert.kind == kind,
                    Alert.status.in_(statuses),
                )
                .order_by(Alert.id)
                .with_for_update()
            )
        )

    def _find(
        self,
        session: Session,
        device_id: str,
        kind: AlertKind,
        statuses: Sequence[AlertStatus],
    ) -> Alert | None:
        found = self._all(session, device_id, kind, statuses)
        # Prefer the open/notified one (the unique index allows only one) over acknowledged ones.
        found.sort(key=lambda a: (a.status not in ACTIVE_ALERT_STATUSES, -a.id))
        return found[0] if found else None
