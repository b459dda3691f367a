"""No words of the senior anywhere in the app: text the protocol lets a robot send (a fault's or
a self-test's free-text detail, an intent label) and a transcript the protocol refuses never
reach the senior page, its timeline, the board and its CSV, the alert page or the push payload.
And the alert page's and the timeline's times are in the senior's own time zone."""

import json
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.app import push
from cloud.netpolicy import parse_networks
from cloud.store.models import DeadLetter, Event, Senior
from protocol import EventType, encode, events_topic
from protocol.envelope import make_envelope
from protocol.events import (
    CountdownOutcome,
    DeviceFaultPayload,
    EmergencyPayload,
    HeartbeatPayload,
    SelfTest,
    TriggerSource,
)
from tests.app.conftest import Browser
from tests.app.test_push import BrowserKeys, PushService, _subscribe
from tests.cloud.api.conftest import World, add_event
from tests.cloud.helpers import NOW

WORDS = "엄마가보고싶어 ZQXWORDS"  # what the senior might have said: a marker, in Korean too
LABEL = "zqxwords"  # the most a label-only field can hold (^[a-z0-9_.:-]+$)


def _robot_sends_words(sessions: sessionmaker[Session]) -> None:
    """dev-a (senior s-a) sends every text the protocol allows, then a transcript it refuses."""
    allowed = [
        (
            EventType.DEVICE_FAULT,
            DeviceFaultPayload(component="asr", code=LABEL, detail=WORDS),
        ),
        (
            EventType.HEARTBEAT,
            HeartbeatPayload(
                uptime_s=1.0,
                agent_version="0.1.0",
                outbox_pending=0,
                self_tests=[SelfTest(name="asr", ok=False, detail=WORDS)],
            ),
        ),
        (
            EventType.EMERGENCY,
            EmergencyPayload(
                trigger=TriggerSource.VOICE, intent=LABEL, countdown=CountdownOutcome.SKIPPED
            ),
        ),
    ]
    for seq, (event_type, payload) in enumerate(allowed, start=2):
        add_event(
            sessions,
            events_topic("dev-a"),
            encode(make_envelope("dev-a", seq, payload, event_type=event_type, ts=NOW)),
        )
    hostile = json.loads(
        encode(
            make_envelope(
                "dev-a",
                9,
                EmergencyPayload(trigger=TriggerSource.VOICE),
                event_type=EventType.EMERGENCY,
                ts=NOW,
            )
        )
    )
    hostile["payload"]["transcript"] = WORDS  # a field the protocol does not have
    add_event(sessions, events_topic("dev-a"), json.dumps(hostile).encode())
    with sessions() as s:
        assert s.scalar(select(Event.id).where(Event.seq == 9)) is None  # refused ...
        assert s.scalars(select(DeadLetter)).all()  # ... and dead-lettered, not stored


async def test_no_words_of_the_senior_reach_any_page_csv_or_push(
    browser: Browser, world: World, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    _robot_sends_words(sessions)
    with sessions() as s:  # the allowed text is stored with its event (the protocol's limit) ...
        stored = [e.payload for e in s.scalars(select(Event).where(Event.device_id == "dev-a"))]
    assert WORDS in json.dumps(stored, ensure_ascii=False)
    await browser.login("alice")
    alert = world.alerts["s-a"]
    for url in [
        "/app/",
        "/app/seniors/s-a",  # status line, charts and the timeline
        "/app/seniors/s-a/trends",
        f"/app/alerts/{alert}",
        "/app/board",
        "/app/board/print",
        "/app/board.csv",
    ]:
        r = await browser.get(url)
        assert r.status_code == 200, url
        assert "김순자" in r.text, url  # the page is the senior's, with her data
        for marker in ("ZQXWORDS", "엄마가보고싶어", LABEL):  # ... but is shown nowhere
            assert marker not in r.text, (url, marker)
    service = PushService()
    try:
        keys = BrowserKeys()
        _subscribe(sessions, world.ids["alice"], keys, f"{service.base}/alice")
        sender = push.PushSender(
            sessions,
            tmp_path / "data",
            "mailto:ops@dolbom.example",
            allow=parse_networks(["127.0.0.0/8"]),
        )
        assert sender.send_alert(alert) == 1
    finally:
        service.close()
    [(_, _, body)] = service.received
    sent = json.dumps(keys.decrypt(body), ensure_ascii=False)
    for marker in ("ZQXWORDS", "엄마가보고싶어", LABEL):
        assert marker not in sent


async def test_alert_and_timeline_times_are_in_the_seniors_zone(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():  # NOW is 2026-11-27 02:13 UTC: 18:13 the day before in LA
        s.get_one(Senior, "s-a").timezone = "America/Los_Angeles"
    await browser.login("alice")
    alert_page = await browser.get(f"/app/alerts/{world.alerts['s-a']}")
    senior_page = await browser.get("/app/seniors/s-a")
    for r in (alert_page, senior_page):
        assert r.status_code == 200
        assert "11-26 18:13" in r.text  # the senior's evening
        assert "11-27 02:13" not in r.text  # not UTC
        assert "11-27 11:13" not in r.text  # not the default zone (Seoul)
    timeline = senior_page.text.split('id="h-timeline"', 1)[-1]
    assert "11-26 18:13" in timeline
