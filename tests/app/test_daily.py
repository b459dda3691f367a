"""The daily report of a past day: the day's bounds and its validation, what a row counts, and
the page and CSV for an organisation's staff only (audited), in Korean and English."""

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords, create_account
from cloud.app.daily import (
    DayError,
    ReportSenior,
    bounds,
    daily_rows,
    parse_day,
    report_zone,
    zone_of,
)
from cloud.store.models import (
    Alert,
    AlertKind,
    AlertStatus,
    AuditLog,
    Event,
    HeartbeatHour,
    Organisation,
    OrganisationSenior,
    OrganisationStaff,
    Role,
    Severity,
)
from protocol import EventType
from tests.app.conftest import Browser, add_event, browser_client
from tests.cloud.api.conftest import PASSWORD, World
from tests.cloud.helpers import NOW

SEOUL = zone_of("Asia/Seoul")  # NOW is 2026-11-27 11:13 there
NOON = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)  # 12:00 in Seoul on 2026-11-26


def test_the_default_day_is_yesterday_in_the_zone() -> None:
    assert parse_day(None, NOW, SEOUL) == date(2026, 11, 26)
    assert parse_day("", NOW, zone_of("America/Los_Angeles")) == date(2026, 11, 25)


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ("2026-13-01", "day_malformed"),
        ("yesterday", "day_malformed"),
        ("2026-11-26T00:00", "day_malformed"),
        ("2026-11-28", "day_future"),
        ("2025-11-25", "day_too_old"),
    ],
)
def test_a_day_that_cannot_be_reported_says_why(text: str, key: str) -> None:
    with pytest.raises(DayError) as refused:
        parse_day(text, NOW, SEOUL)
    assert refused.value.key == key


def test_today_and_a_year_ago_can_be_reported() -> None:
    assert parse_day("2026-11-27", NOW, SEOUL) == date(2026, 11, 27)
    assert parse_day("2025-11-26", NOW, SEOUL) == date(2025, 11, 26)


def test_the_day_runs_midnight_to_midnight_in_the_zone() -> None:
    start, end = bounds(date(2026, 11, 26), SEOUL)
    assert (start, end) == (
        datetime(2026, 11, 25, 15, tzinfo=UTC),
        datetime(2026, 11, 26, 15, tzinfo=UTC),
    )
    assert report_zone(["Asia/Seoul", "UTC", "Asia/Seoul"]) == "Asia/Seoul"
    assert report_zone([]) == "Asia/Seoul"


def _alert(
    s: Session, seq: int, kind: AlertKind, severity: Severity, status: AlertStatus, **kw: Any
) -> None:
    s.add(
        Alert(
            device_id="dev-a",
            senior_id="s-a",
            kind=kind,
            severity=severity,
            status=status,
            event_seq=seq,
            created_at=NOON,
            updated_at=NOON,
            **kw,
        )
    )


def _agency_day(sessions: sessionmaker[Session], passwords: Passwords) -> None:
    """org-1 cares for s-a, with wendy on its staff; s-a's 2026-11-26 (Seoul) has two alerts,
    a touch, medication taken once and missed once, two moods, a screening and 12 online hours;
    the day before has a missed reminder that must not count."""
    with sessions() as s, s.begin():
        s.add(Organisation(id="org-1", name="돌봄센터", created_at=NOW))
        s.add(Organisation(id="org-2", name="다른센터", created_at=NOW))
        s.flush()
        s.add(OrganisationSenior(senior_id="s-a", organisation_id="org-1", assigned_at=NOW))
        s.add(OrganisationSenior(senior_id="s-b", organisation_id="org-2", assigned_at=NOW))
        wendy = create_account(
            s, passwords, username="wendy", role=Role.CAREGIVER, password=PASSWORD, now=NOW
        )
        s.add(OrganisationStaff(account_id=wendy.id, organisation_id="org-1", added_at=NOW))
        _alert(
            s,
            10,
            AlertKind.FALL,
            Severity.CRITICAL,
            AlertStatus.RESOLVED,
            acknowledged_at=NOON + timedelta(minutes=12),
            resolved_at=NOON + timedelta(hours=2),
        )
        _alert(s, 11, AlertKind.INACTIVITY, Severity.MAJOR, AlertStatus.NOTIFIED)
        touch = {"period_start": "x", "period_end": "x", "hug": 1, "pat": 0, "squeeze": 0}
        add_event(s, 20, EventType.TOUCH, NOON, touch)
        med = {"reminder_id": "r1", "kind": "medication"}
        add_event(s, 21, EventType.REMINDER, NOON, med | {"status": "confirmed"})
        add_event(s, 22, EventType.REMINDER, NOON + timedelta(hours=6), med | {"status": "missed"})
        add_event(s, 23, EventType.REMINDER, NOON - timedelta(days=1), med | {"status": "missed"})
        for seq, valence in ((24, 0.5), (25, -0.1)):
            add_event(s, seq, EventType.MOOD, NOON, {"valence": valence, "utterances": 3})
        screening = {"instrument": "phq9", "score": 14, "complete": True, "answers": [2]}
        add_event(s, 26, EventType.SCREENING, NOON, screening)
        start = datetime(2026, 11, 25, 15, tzinfo=UTC)
        for h in range(12):
            at = start + timedelta(hours=h)
            s.add(
                HeartbeatHour(
                    device_id="dev-a",
                    hour=at,
                    count=60,
                    first_ts=at,
                    last_ts=at,
                    last_epoch=0,
                    last_seq=h,
                    last_payload={},
                    received_at=at,
                )
            )


async def test_staff_get_the_days_report_as_csv_and_page(
    app: FastAPI, world: World, sessions: sessionmaker[Session], passwords: Passwords
) -> None:
    _agency_day(sessions, passwords)
    async with browser_client(app, **{"accept-language": "en"}) as client:
        browser = Browser(client)
        await browser.login("wendy")
        exported = await browser.get("/app/board/daily.csv?org=org-2")  # never widens
        page = await browser.get("/app/board/daily?day=2026-11-26")
    assert exported.status_code == 200
    [row] = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    assert row["day"] == "2026-11-26"
    assert row["time_zone"] == "Asia/Seoul"
    assert row["senior_id"] == "s-a"  # only her organisation's senior
    picked = {k: row[k] for k in row if k not in ("day", "time_zone", "senior_id", "name")}
    assert picked == {
        "region": "",
        "alerts_opened": "2",
        "alerts_critical": "1",
        "alerts_high": "0",
        "alerts_major": "1",
        "alerts_minor": "0",
        "alerts_warning": "0",
        "acknowledged": "1",
        "slowest_ack_min": "12",
        "resolved": "1",
        "last_resolved_utc": "2026-11-26T05:00:00+00:00",
        "cancelled_or_expired": "0",
        "still_open": "1",
        "sign_of_life": "1",
        "last_life_sign_utc": "2026-11-26T03:00:00+00:00",
        "robots": "1",
        "robot_online_share": "0.50",
        "medication_taken": "1",
        "medication_missed": "1",
        "mood_mean_valence": "0.20",
        "mood_summaries": "2",
        "screenings": "phq9:14",
    }
    assert page.status_code == 200
    for text in (
        "critical 1",
        "acknowledged 1",
        "slowest 12 min",
        "by 11-26 14:00",
        "still open 1",
        "50%",
        "taken 1",
        "missed 1",
        "+0.20 (n=2)",
        "phq9 14",
    ):
        assert text in page.text, text
    assert "박말순" not in page.text
    with sessions() as s:
        details = s.scalars(select(AuditLog.detail).where(AuditLog.resource == "daily_report"))
        assert list(details) == [
            "app: 2026-11-26 Asia/Seoul 1 seniors",
            "app: 2026-11-26 Asia/Seoul 1 seniors",
        ]


async def test_a_family_caregiver_gets_no_daily_report(app: FastAPI, world: World) -> None:
    async with browser_client(app, **{"accept-language": "en"}) as client:
        browser = Browser(client)
        await browser.login("alice")
        for url in ("/app/board/daily", "/app/board/daily.csv"):
            r = await browser.get(url)
            assert r.status_code == 403
            assert "for the staff of an organisation" in r.text
            assert "s-a" not in r.text


@pytest.mark.parametrize(
    ("day", "en", "ko"),
    [
        ("2026-02-30", "not a valid date", "날짜 형식이 올바르지 않습니다"),
        ("2026-11-28", "in the future", "아직 오지 않은 날"),
        ("2024-01-01", "too old", "366일보다 이전"),
        ("<script>", "not a valid date", "날짜 형식이 올바르지 않습니다"),
    ],
)
async def test_a_bad_day_is_refused_in_both_languages(
    app: FastAPI,
    world: World,
    sessions: sessionmaker[Session],
    passwords: Passwords,
    day: str,
    en: str,
    ko: str,
) -> None:
    _agency_day(sessions, passwords)
    for lang, words in (("en", en), ("ko", ko)):
        async with browser_client(app, **{"accept-language": lang}) as client:
            browser = Browser(client)
            await browser.login("wendy")
            r = await browser.get("/app/board/daily.csv", params={"day": day})
        assert r.status_code == 422
        assert words in r.text
        assert "<script>" not in r.text


def test_the_last_life_sign_is_found_behind_newer_events_that_are_none(
    world: World, sessions: sessionmaker[Session]
) -> None:
    touch = {"period_start": "x", "period_end": "x", "pat": 0, "squeeze": 0}
    with sessions() as s, s.begin():
        add_event(s, 30, EventType.TOUCH, NOON, touch | {"hug": 1})
        for i in range(7):  # newer touches with no contact: no sign of life
            add_event(s, 31 + i, EventType.TOUCH, NOON + timedelta(hours=1 + i), touch | {"hug": 0})
        # s-b's robot: only touches with no contact that day
        s.add(
            Event(
                device_id="dev-b",
                seq=40,
                type=EventType.TOUCH.value,
                priority="normal",
                ts=NOON,
                received_at=NOON,
                payload=touch | {"hug": 0},
            )
        )
    start, end = bounds(date(2026, 11, 26), SEOUL)
    seniors = [ReportSenior("s-a", "a", None), ReportSenior("s-b", "b", None)]
    with sessions() as s:
        a, b = daily_rows(s, seniors, start, end)
    assert (a.life_sign, a.last_life_sign) == (True, NOON)
    assert (b.life_sign, b.last_life_sign) == (False, None)
