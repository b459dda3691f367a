"""Research fixtures: seniors with robots, a two-arm study, and events sent through ingest."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts.access import SERVICE, Principal
from cloud.alerts import AlertEngine
from cloud.ingest import ingest_message
from cloud.research.studies import create_study, enrol, publish_consent_form, set_consent
from cloud.store.models import Device, Participant, Retention, Senior
from protocol import EventType, ModelRef, encode, events_topic, make_envelope
from protocol.consent import DataStream
from protocol.events import (
    ActivityPayload,
    ConversationPayload,
    HeartbeatPayload,
    MoodPayload,
    Payload,
    ReminderPayload,
    ReminderStatus,
    ScreeningPayload,
    TouchPayload,
)

T0 = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)  # 09:00 in Seoul on Monday 2 March 2026
STUDY = "pilot-a"
FORM = "v1"
ALL_STREAMS = {s.value: True for s in DataStream}
COORDINATOR = Principal(role=SERVICE.role, account_id=None, username="service", display_name="s")


@dataclass
class Robot:
    """A senior's robot that sends real envelopes through ingest."""

    sessions: sessionmaker[Session]
    device_id: str
    seq: int = 0

    def send(
        self,
        event_type: EventType,
        payload: Payload,
        ts: datetime,
        *,
        model: ModelRef | None = None,
        received: datetime | None = None,
    ) -> None:
        self.seq += 1
        env = make_envelope(
            self.device_id, self.seq, payload, event_type=event_type, ts=ts, model=model
        )
        with self.sessions() as s, s.begin():
            ingest_message(
                s, events_topic(self.device_id), encode(env), received or ts, alerts=AlertEngine()
            )

    def conversation(self, start: datetime, minutes: float = 10.0, turns: int = 8) -> None:
        end = start + timedelta(hours=1)
        payload = ConversationPayload(
            period_start=start, period_end=end, turns=turns, robot_turns=turns, talk_minutes=minutes
        )
        self.send(EventType.CONVERSATION, payload, end)

    def mood(self, start: datetime, valence: float, utterances: int = 4) -> None:
        end = start + timedelta(hours=1)
        payload = MoodPayload(
            period_start=start,
            period_end=end,
            shares={"happy": 0.5, "neutral": 0.5},
            valence=valence,
            arousal=0.1,
            utterances=utterances,
        )
        self.send(EventType.MOOD, payload, end, model=ModelRef(name="emotion-ko", version="1.0.0"))

    def activity(self, start: datetime, minutes: dict[str, float]) -> None:
        end = start + timedelta(hours=1)
        payload = ActivityPayload(period_start=start, period_end=end, minutes=minutes)
        self.send(EventType.ACTIVITY, payload, end, model=ModelRef(name="activity", version="2.1"))

    def touch(self, start: datetime, hug: int = 1, pat: int = 2) -> None:
        end = start + timedelta(hours=1)
        self.send(
            EventType.TOUCH, TouchPayload(period_start=start, period_end=end, hug=hug, pat=pat), end
        )

    def reminder(self, ts: datetime, status: ReminderStatus) -> None:
        payload = ReminderPayload(reminder_id="r1", kind="medicine", status=status)
        self.send(EventType.REMINDER, payload, ts)

    def heartbeat(self, ts: datetime) -> None:
        payload = HeartbeatPayload(uptime_s=1.0, agent_version="0.1", outbox_pending=0)
        self.send(EventType.HEARTBEAT, payload, ts)

    def screening(self, ts: datetime, instrument: str, answers: list[int | None]) -> None:
        payload = ScreeningPayload(instrument=instrument, answers=answers, score=0.0, complete=True)
        self.send(EventType.SCREENING, payload, ts)


@dataclass
class StudyWorld:
    """A study with two arms; `enrol` adds a senior with a robot, consenting as asked."""

    sessions: sessionmaker[Session]
    robots: dict[str, Robot] = field(default_factory=dict)  # participant code -> robot
    n: int = 0

    def enrol(
        self,
        *,
        arm: str = "intervention",
        streams: dict[str, bool] | None = None,
        retention: Retention = Retention.DELETE,
        at: datetime = T0,
        birth_year: int = 1945,
        sex: str = "f",
        region: str = "서울특별시 종로구",
    ) -> str:
        self.n += 1
        senior_id, device_id = f"s-{self.n:04d}", f"dev-{self.n:04d}"
        with self.sessions() as s, s.begin():
            s.add(Senior(id=senior_id, display_name=f"이름{self.n}", settings={}, created_at=at))
            s.flush()
            s.add(Device(id=device_id, senior_id=senior_id, first_seen=at, last_seen=at))
            s.flush()
            p = enrol(
                s,
                COORDINATOR,
                at,
                study_id=STUDY,
                senior_id=senior_id,
                arm=arm,
                device_id=device_id,
                birth_year=birth_year,
                sex=sex,
                region=region,
            )
            set_consent(
                s,
                COORDINATOR,
                at,
                participant=p,
                form_version=FORM,
                streams=ALL_STREAMS if streams is None else streams,
                retention=retention,
            )
            code = p.code
        self.robots[code] = Robot(self.sessions, device_id)
        return code

    def participant(self, code: str) -> Participant:
        with self.sessions() as s:
            from sqlalchemy import select

            p = s.scalars(select(Participant).where(Participant.code == code)).one()
            return p


@pytest.fixture
def study(sessions: sessionmaker[Session]) -> StudyWorld:
    with sessions() as s, s.begin():
        create_study(s, COORDINATOR, T0 - timedelta(days=1), study_id=STUDY, title="Pilot A")
        publish_consent_form(
            s,
            COORDINATOR,
            T0 - timedelta(days=1),
            study_id=STUDY,
            version=FORM,
            streams=list(ALL_STREAMS),
        )
    return StudyWorld(sessions)


Clock = Callable[[], datetime]
