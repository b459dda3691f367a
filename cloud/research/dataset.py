"""A study's research data as tables, keyed by pseudonymous code: never an identity.

Nothing here reads `participant_identities` or `seniors`; what researchers, exports and
reports see is built from these functions only.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd  # type: ignore[import-untyped]
from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from cloud.store.models import (
    Assessment,
    DailyMetric,
    Participant,
    ParticipantStatus,
    Retention,
)

# Daily-metric columns with one number per participant-day (trends, summaries).
SCALAR_METRICS = (
    "talk_minutes",
    "turns",
    "touches",
    "mood_valence",
    "mood_arousal",
    "present_minutes",
    "reminder_adherence",
    "hours_with_data",
    "device_up_hours",
)


@dataclass(frozen=True, slots=True)
class Roster:
    """Who is analysed: code -> arm, plus the flow counts per arm."""

    arms: dict[str, str]  # participant code -> arm, for everyone whose data is kept
    enrolled: dict[str, int]  # arm -> ever enrolled
    withdrawn: dict[str, int]  # arm -> withdrawn (data kept or deleted)


def roster(session: Session, study_id: str) -> Roster:
    """Analysis set: enrolled, completed, and withdrawn participants whose data were retained."""
    enrolled: dict[str, int] = {}
    withdrawn: dict[str, int] = {}
    arms: dict[str, str] = {}
    for code, arm, status, retention in session.execute(
        select(Participant.code, Participant.arm, Participant.status, Participant.retention)
        .where(Participant.study_id == study_id)
        .order_by(Participant.id)
    ):
        enrolled[arm] = enrolled.get(arm, 0) + 1
        if status is ParticipantStatus.WITHDRAWN:
            withdrawn[arm] = withdrawn.get(arm, 0) + 1
            if retention is Retention.DELETE:
                continue
        arms[code] = arm
    return Roster(arms, enrolled, withdrawn)


def assessments_long(
    session: Session, study_id: str, instrument: str, codes: Sequence[str] | None = None
) -> Any:
    """participant, arm, time, score, day: the latest scored administration per time point.

    ``day`` is the study day the assessment was taken (its local visit date minus the local
    enrolment date, in the participant's time zone), for models with time as a number.
    """
    q = (
        select(
            Participant.code,
            Participant.arm,
            Assessment.time_point,
            Assessment.score,
            Assessment.administered_at,
            Participant.enrolled_at,
            Participant.timezone,
        )
        .join(Participant, Participant.id == Assessment.participant_id)
        .where(
            Participant.study_id == study_id,
            Assessment.instrument == instrument,
            Assessment.time_point.is_not(None),
        )
        .order_by(Assessment.administered_at)
    )
    rows = [
        (code, arm, time, score, at, _study_day(at, enrolled, tz))
        for code, arm, time, score, at, enrolled, tz in session.execute(q).all()
    ]
    frame = pd.DataFrame(rows, columns=["participant", "arm", "time", "score", "at", "day"])
    if codes is not None:
        frame = frame.loc[frame["participant"].isin(set(codes))]
    frame = frame.drop_duplicates(["participant", "time"], keep="last")
    frame["score"] = pd.to_numeric(frame["score"], errors="coerce").astype(float)
    frame["day"] = pd.to_numeric(frame["day"], errors="coerce").astype(float)
    return frame.drop(columns=["at"]).reset_index(drop=True)


def _study_day(at: datetime, enrolled: datetime, tz: str) -> int:
    """Local calendar days from enrolment to ``at`` (naive datetimes are UTC, as stored)."""
    zone = ZoneInfo(tz)

    def local(x: datetime) -> date:
        return (x if x.tzinfo else x.replace(tzinfo=UTC)).astimezone(zone).date()

    return (local(at) - local(enrolled)).days


def instruments_used(session: Session, study_id: str) -> list[str]:
    """Instruments with at least one assessment in the study."""
    return sorted(
        session.scalars(
            select(Assessment.instrument)
            .join(Participant, Participant.id == Assessment.participant_id)
            .where(Participant.study_id == study_id)
            .distinct()
        )
    )


def metric_trends(
    session: Session,
    study_id: str,
    codes: Sequence[str] | None = None,
    metrics: Sequence[str] = SCALAR_METRICS,
) -> Any:
    """date, arm, metric, mean, n: per day and arm, computed in the database."""
    cols = [getattr(DailyMetric, m) for m in metrics]
    select_list: list[Any] = [DailyMetric.day, Participant.arm]
    for c in cols:
        select_list += [func.avg(c), func.count(c)]
    q = (
        select(*select_list)
        .join(Participant, Participant.id == DailyMetric.participant_id)
        .where(Participant.study_id == study_id)
        .group_by(DailyMetric.day, Participant.arm)
        .order_by(DailyMetric.day, Participant.arm)
    )
    if codes is not None:
        q = q.where(Participant.code.in_(list(codes)))
    out: list[tuple[date, str, str, float | None, int]] = []
    for row in session.execute(q):
        day, arm = row[0], row[1]
        for i, m in enumerate(metrics):
            mean, n = row[2 + 2 * i], row[3 + 2 * i]
            out.append((day, arm, m, None if mean is None else float(mean), int(n)))
    return pd.DataFrame(out, columns=["date", "arm", "metric", "mean", "n"])


def completeness(session: Session, study_id: str) -> dict[str, float | None]:
    """Study-wide data completeness: share of participant-days with any data, and robot uptime."""
    row = session.execute(
        select(
            func.count(),
            func.sum(case((DailyMetric.hours_with_data > 0, 1), else_=0)),
            func.avg(DailyMetric.device_up_hours),
        )
        .join(Participant, Participant.id == DailyMetric.participant_id)
        .where(Participant.study_id == study_id)
    ).one()
    days, with_data, up = int(row[0] or 0), row[1], row[2]
    return {
        "participant_days": float(days),
        "share_days_with_data": (float(with_data) / days) if days else None,
        "mean_device_up_hours": None if up is None else float(up),
    }
