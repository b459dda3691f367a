"""The status line says why it is not OK: the board's criteria as reasons, in Korean and English."""

from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from cloud.app.reasons import reason_text
from cloud.app.status import Level, OpenAlert, Reason, SeniorStatus, Why, statuses
from cloud.store.models import AlertStatus, Device, Event, Senior, Severity
from protocol import EventType
from tests.app.conftest import Browser, add_event, browser_client
from tests.cloud.api.conftest import World
from tests.cloud.helpers import NOW

SEOUL = "Asia/Seoul"  # NOW is 11:13 there


def _status(**kw: object) -> SeniorStatus:
    base: dict[str, object] = {
        "senior_id": "s",
        "display_name": "s",
        "timezone": SEOUL,
        "region": None,
        "level": Level.OK,
        "last_life_sign": NOW - timedelta(minutes=5),
        "no_life_sign": False,
        "robots": 1,
        "robots_online": 1,
        "battery_pct": 80.0,
        "charging": False,
        "faults": (),
        "open_alerts": (),
    }
    return SeniorStatus(**(base | kw))  # type: ignore[arg-type]


def test_a_fine_senior_has_no_reason() -> None:
    assert _status().reasons() == ()


def test_reasons_follow_the_boards_risk_order() -> None:
    fall = OpenAlert(1, "fall", Severity.CRITICAL, AlertStatus.OPEN, NOW - timedelta(hours=1))
    acked = OpenAlert(2, "inactivity", Severity.MAJOR, AlertStatus.ACKNOWLEDGED, NOW)
    status = _status(
        open_alerts=(acked, fall),
        no_life_sign=True,
        last_life_sign=NOW - timedelta(hours=9, minutes=30),
        robots_online=0,
        offline_since=NOW - timedelta(hours=9),
        missed_streak=2,
        mood_drop=0.5,
        screenings_over=(("phq9", 14.0),),
        battery_pct=8.0,
        faults=("mic",),
    )
    assert [r.why for r in status.reasons()] == [
        Why.ALERT,
        Why.NO_LIFE_SIGN,
        Why.OFFLINE,
        Why.MISSED_MEDICATION,
        Why.MOOD,
        Why.SCREENING,
        Why.ACKNOWLEDGED,
        Why.BATTERY,
        Why.FAULTS,
    ]


def test_a_charging_robot_at_low_battery_is_no_reason() -> None:
    assert _status(battery_pct=8.0, charging=True).reasons() == ()


def test_the_words_of_each_reason_in_both_languages() -> None:
    cases = [
        (
            Reason(Why.OFFLINE, since=NOW - timedelta(hours=9)),
            "Robot offline since 02:13",
            "로봇 연결 끊김 (02:13부터)",
        ),
        (
            Reason(Why.OFFLINE, since=NOW - timedelta(days=2)),
            "Robot offline since 11-25 11:13",
            "로봇 연결 끊김 (11-25 11:13부터)",
        ),
        (
            Reason(Why.NO_LIFE_SIGN, since=NOW - timedelta(hours=9, minutes=50)),
            "No sign of life for 9 h",
            "9시간째 생활 신호 없음",
        ),
        (Reason(Why.NO_LIFE_SIGN), "No sign of life yet", "생활 신호가 아직 없음"),
        (Reason(Why.BATTERY, value=8.2), "Battery 8 %", "배터리 8%"),
        (
            Reason(Why.MISSED_MEDICATION, value=2),
            "Missed medication 2 times in a row",
            "약 알림 2회 연속 놓침",
        ),
        (
            Reason(Why.SCREENING, value=14, name="phq9"),
            "Screening over cut-off: phq9 14",
            "선별검사 기준 초과: phq9 14점",
        ),
        (
            Reason(Why.ALERT, since=NOW - timedelta(minutes=3), name="fall"),
            "Fall alert since 11:10",
            "낙상 경보 (11:10부터)",
        ),
        (
            Reason(Why.FAULTS, name="mic, speaker"),
            "Self-test failed: mic, speaker",
            "자가 점검 실패: mic, speaker",
        ),
    ]
    for reason, en, ko in cases:
        assert reason_text(reason, "en", NOW, SEOUL) == en
        assert reason_text(reason, "ko", NOW, SEOUL) == ko


def _quiet_offline_robot(sessions: sessionmaker[Session]) -> None:
    """s-a's robot went offline 9 h ago; its last sign of life (the emergency) is 30 h old;
    battery at 8 %."""
    with sessions() as s, s.begin():
        s.execute(
            update(Event).where(Event.device_id == "dev-a").values(ts=NOW - timedelta(hours=30))
        )
        s.execute(
            update(Device)
            .where(Device.id == "dev-a")
            .values(online=False, last_status_at=NOW - timedelta(hours=9))
        )
        for seq, kind, at, payload in (
            (2, EventType.BATTERY, NOW - timedelta(hours=10), {"level_pct": 8.0}),
        ):
            add_event(s, seq, kind, at, payload)


def test_the_store_gives_the_reasons_and_the_level_from_them(
    world: World, sessions: sessionmaker[Session]
) -> None:
    _quiet_offline_robot(sessions)
    with sessions() as s:
        senior = s.get_one(Senior, "s-a")
        status = statuses(s, [senior], NOW)[0]
    whys = [r.why for r in status.reasons()]
    assert whys == [Why.ALERT, Why.NO_LIFE_SIGN, Why.OFFLINE, Why.BATTERY]
    assert status.level is Level.ALERT
    assert status.offline_since == NOW - timedelta(hours=9)


async def test_the_senior_page_and_my_seniors_say_why_in_the_readers_language(
    app: FastAPI, world: World, sessions: sessionmaker[Session]
) -> None:
    _quiet_offline_robot(sessions)
    for lang, words in (
        ("en", ("Robot offline since", "No sign of life for 30 h", "Battery 8 %", "Emergency")),
        ("ko", ("로봇 연결 끊김 (", "30시간째 생활 신호 없음", "배터리 8%", "경보 (")),
    ):
        async with browser_client(app, **{"accept-language": lang}) as client:
            browser = Browser(client)
            await browser.login("alice")
            page = await browser.get("/app/seniors/s-a")
            home = await browser.get("/app/")
        for text in words:
            assert text in page.text, (lang, text)
            assert text in home.text, (lang, text)
        assert "박말순" not in home.text  # bob's senior stays bob's
