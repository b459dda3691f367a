"""The family's editors and the message to the robot in Debian's chromium: htmx saves in place
on a 360 px phone, errors appear next to their field, and axe-core finds no serious WCAG 2.2 AA
violation on the new pages in Korean and English, at phone and desktop size."""

from datetime import timedelta

import pytest
from playwright.sync_api import Browser, Page
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.models import CaregiverLink, Contact, Event, RobotMessage
from protocol import CommandType, EventType, encode, events_topic
from protocol.envelope import make_envelope
from protocol.events import MessagePayload, MessageStatus
from tests.app.browser.pages import DESKTOP, PHONE, _fits, _login, _open, _serious, _shot
from tests.cloud.api.conftest import FakePublisher, World, add_event
from tests.cloud.helpers import NOW


def _submit(page: Page, field: str) -> None:
    """Press the submit button of the form that holds `field`."""
    page.locator(field).locator("xpath=ancestor::form").locator("button[type=submit]").click()


def _primary(factory: sessionmaker[Session], world: World) -> None:
    with factory() as s, s.begin():
        s.execute(
            update(CaregiverLink)
            .where(CaregiverLink.account_id == world.ids["alice"])
            .values(is_primary=True)
        )


def test_a_contact_and_a_reminder_are_saved_in_place_on_a_phone(
    chromium: Browser,
    base_url: str,
    world: World,
    sessions: sessionmaker[Session],
    publisher: FakePublisher,
) -> None:
    _primary(sessions, world)
    page = _open(chromium, base_url, PHONE, "en-US")
    _login(page, "alice")
    page.goto("/app/seniors/s-a")
    page.click("text=Care settings")
    page.wait_for_selector("h1 >> text=Care settings")
    care_url = page.url
    page.fill("#cnew-name", "김지영")
    page.fill("#cnew-relation", "딸")
    page.fill("#cnew-target", "not-an-address")
    _submit(page, "#cnew-target")
    page.wait_for_selector("#cnew-target-err >> text=Enter an e-mail address.")
    assert page.get_attribute("#cnew-target", "aria-invalid") == "true"
    assert page.input_value("#cnew-name") == "김지영"  # what was typed is kept
    page.fill("#cnew-target", "jiyoung@example.com")
    _submit(page, "#cnew-target")
    page.wait_for_selector("text=Contact added.")
    assert page.url == care_url  # htmx swapped the editors in place
    with sessions() as s:
        assert [c.name for c in s.scalars(select(Contact))] == ["김지영"]
    page.fill("#rnew-label", "혈압약")
    page.fill("#rnew-times", "08:00, 20:00")
    _submit(page, "#rnew-label")
    page.wait_for_selector("text=The new schedule was sent to 1 robot(s).")
    assert [c.type for _, c in publisher.sent] == [CommandType.SCHEDULE]
    assert _fits(page, PHONE["width"])
    _shot(page, "care-phone")
    assert page.problems == []  # type: ignore[attr-defined]


def test_a_message_is_sent_from_a_phone_and_shows_when_it_was_heard(
    chromium: Browser,
    base_url: str,
    world: World,
    sessions: sessionmaker[Session],
    publisher: FakePublisher,
) -> None:
    page = _open(chromium, base_url, PHONE, "ko-KR")
    _login(page, "alice")
    page.goto("/app/seniors/s-a")
    page.click("text=메시지 보내기")
    page.fill("#msg-text", "엄마, 저녁에 전화할게요")
    page.fill("#msg-sender", "딸 지영")
    _submit(page, "#msg-text")
    page.wait_for_selector("text=로봇에 보냈습니다.")
    page.wait_for_selector("#msg-list >> text=좋은 때를 기다리는 중")
    [(device, command)] = publisher.sent
    assert (device, command.type) == ("dev-a", CommandType.SAY_MESSAGE)
    with sessions() as s:
        message_id = s.scalars(select(RobotMessage.message_id)).one()
    spoken = MessagePayload(message_id=message_id, status=MessageStatus.SPOKEN, waited_s=60.0)
    env = make_envelope("dev-a", 2, spoken, event_type=EventType.MESSAGE, ts=NOW)
    add_event(sessions, events_topic("dev-a"), encode(env))
    page.reload()
    page.wait_for_selector("#msg-list >> text=어르신이 들으셨어요 11-27 11:13")
    assert _fits(page, PHONE["width"])
    _shot(page, "message-phone")
    assert page.problems == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["ko-KR", "en-US"])
@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_axe_finds_no_serious_violation_on_the_family_pages(
    chromium: Browser,
    base_url: str,
    world: World,
    sessions: sessionmaker[Session],
    lang: str,
    viewport: dict[str, int],
) -> None:
    _primary(sessions, world)
    with sessions() as s, s.begin():
        s.add(
            Contact(
                senior_id="s-a",
                name="김지영",
                relation="딸",
                channel="email",
                target="j@example.com",
                language="ko",
            )
        )
    page = _open(chromium, base_url, viewport, lang)
    _login(page, "alice")
    found: dict[str, list[str]] = {}
    page.goto("/app/seniors/s-a/care")
    found["care"] = _serious(page)
    page.fill("#cnew-target", "x")  # an error shown next to its field
    page.fill("#cnew-name", "x")
    page.fill("#cnew-relation", "x")
    _submit(page, "#cnew-target")
    page.wait_for_selector("#cnew-target-err")
    found["care with an error"] = _serious(page)
    page.goto("/app/seniors/s-a/messages")
    found["messages"] = _serious(page)
    for days in (7, 30):
        page.goto(f"/app/seniors/s-a/trends?days={days}")
        found[f"trends {days}"] = _serious(page)
    assert {k: v for k, v in found.items() if v} == {}
    assert page.problems == []  # type: ignore[attr-defined]


def _month_of_days(factory: sessionmaker[Session]) -> None:
    """Thirty days of daily movement, mood, talk and reminders for dev-a (ending at NOW)."""
    with factory() as s, s.begin():
        for day in range(30):
            at = NOW - timedelta(days=day, hours=1)
            period = {"period_start": at.isoformat(), "period_end": at.isoformat()}
            payloads = [
                ("activity", period | {"minutes": {"walking": 20.0 + (day * 7) % 40}}),
                (
                    "mood",
                    period
                    | {
                        "shares": {"calm": 1.0},
                        "valence": ((day * 5) % 9 - 4) / 5,
                        "arousal": 0.0,
                        "utterances": 3,
                    },
                ),
                (
                    "conversation",
                    period | {"turns": 9, "robot_turns": 9, "talk_minutes": 5.0 + day % 6},
                ),
                (
                    "reminder",
                    {
                        "reminder_id": "7",
                        "kind": "medicine",
                        "status": "missed" if day % 4 == 0 else "confirmed",
                    },
                ),
            ]
            for k, (kind, payload) in enumerate(payloads):
                s.add(
                    Event(
                        device_id="dev-a",
                        seq=1000 + day * 10 + k,
                        type=kind,
                        priority="normal",
                        ts=at,
                        received_at=at,
                        payload=payload,
                    )
                )


def test_the_thirty_day_trends_fit_a_phone(
    chromium: Browser,
    base_url: str,
    world: World,
    sessions: sessionmaker[Session],
) -> None:
    _month_of_days(sessions)
    page = _open(chromium, base_url, PHONE, "ko-KR")
    _login(page, "alice")
    page.goto("/app/seniors/s-a")
    page.click("text=7일·30일 추이")
    page.wait_for_selector("h2 >> text=움직인 시간 (하루 분, 최근 30일)")
    assert page.locator("svg.chart").count() == 4
    assert page.locator("svg.chart rect").count() == 4 * 30
    assert _fits(page, PHONE["width"])
    _shot(page, "trends-phone")
    page.click("text=최근 7일")
    page.wait_for_selector("h2 >> text=움직인 시간 (하루 분, 최근 7일)")
    assert page.problems == []  # type: ignore[attr-defined]
