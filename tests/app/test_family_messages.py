"""A caregiver's message to the robot through the app and the API: validated and scoped, sent
as a `say_message` command, and shown as "heard at HH:MM" once the robot reports it spoken."""

from datetime import timedelta

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.models import AuditLog, Device, RobotMessage
from protocol import CommandType, EventType, encode, events_topic
from protocol.commands import SayMessagePayload
from protocol.envelope import make_envelope
from protocol.events import MessagePayload, MessageStatus
from tests.app.conftest import Browser, browser_client
from tests.cloud.api.conftest import Clock, FakePublisher, World, add_event, http, login
from tests.cloud.helpers import NOW

URL = "/app/seniors/s-a/messages"
TEXT = "엄마, 저녁에 전화할게요"


def _stored(sessions: sessionmaker[Session]) -> list[RobotMessage]:
    with sessions() as s:
        return list(s.scalars(select(RobotMessage).order_by(RobotMessage.id)))


def _report(
    sessions: sessionmaker[Session], message_id: str, status: MessageStatus, seq: int, at_s: float
) -> None:
    payload = MessagePayload(message_id=message_id, status=status, waited_s=at_s)
    env = make_envelope(
        "dev-a",
        seq,
        payload,
        event_type=EventType.MESSAGE,
        ts=NOW + timedelta(seconds=at_s),
    )
    add_event(sessions, events_topic("dev-a"), encode(env))


async def test_a_message_is_sent_to_the_robot_and_audited_without_its_words(
    browser: Browser, world: World, sessions: sessionmaker[Session], publisher: FakePublisher
) -> None:
    await browser.login("alice")
    page = await browser.get(URL)
    assert page.status_code == 200
    r = await browser.post(URL, {"text": TEXT, "sender": "딸 지영", "valid_hours": "12"})
    assert r.status_code == 200
    assert "Sent to the robot." in r.text
    assert "Waiting for a good moment" in r.text
    [row] = _stored(sessions)
    [(device, command)] = publisher.sent
    assert (device, command.type) == ("dev-a", CommandType.SAY_MESSAGE)
    said = SayMessagePayload.model_validate(command.payload)
    assert (said.message_id, said.sender, said.text) == (row.message_id, "딸 지영", TEXT)
    assert said.expires_at == NOW + timedelta(hours=12)
    assert (row.devices, row.commands_published) == (1, 1)
    with sessions() as s:
        audit = s.scalars(select(AuditLog).where(AuditLog.resource == "message")).all()
    created = [a for a in audit if a.action == "create"]
    assert [a.actor for a in created] == ["caregiver:alice"]
    assert all(TEXT not in (a.detail or "") for a in audit)


async def test_the_page_shows_when_the_robot_said_it_in_the_seniors_time(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    await browser.get(URL)
    await browser.post(URL, {"text": TEXT, "sender": "딸 지영", "valid_hours": "12"})
    [row] = _stored(sessions)
    _report(sessions, row.message_id, MessageStatus.SPOKEN, 2, 3600.0)
    page = await browser.get(URL)
    # NOW is 02:13:38 UTC: an hour later is 12:13 in Seoul
    assert "Heard at 11-27 12:13" in page.text
    assert "Waiting for a good moment" not in page.text
    fragment = await browser.get(URL, headers={"hx-request": "true"})
    assert "Heard at 11-27 12:13" in fragment.text
    assert "<html" not in fragment.text


async def test_an_unsaid_message_shows_as_expired_after_its_time(
    browser: Browser, world: World, clock: Clock
) -> None:
    await browser.login("alice")
    await browser.get(URL)
    await browser.post(URL, {"text": TEXT, "sender": "딸", "valid_hours": "3"})
    clock.advance(3 * 3600 + 1)
    await browser.login("alice")  # the session of three hours ago has ended
    page = await browser.get(URL)
    assert "Expired before it could be said" in page.text


async def test_a_message_the_robot_dropped_says_so(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    await browser.get(URL)
    await browser.post(URL, {"text": TEXT, "sender": "딸", "valid_hours": "12"})
    [row] = _stored(sessions)
    _report(sessions, row.message_id, MessageStatus.DROPPED, 2, 1.0)
    page = await browser.get(URL)
    assert "too many messages were waiting on the robot" in page.text


async def test_bad_messages_are_refused_next_to_the_field_and_nothing_is_sent(
    app: FastAPI, world: World, sessions: sessionmaker[Session], publisher: FakePublisher
) -> None:
    cases = [
        ("en", {"text": "", "sender": "딸"}, "msg-text", "This is required."),
        ("en", {"text": "x" * 201, "sender": "딸"}, "msg-text", "At most 200 characters."),
        ("ko", {"text": "숨은\u202e글자", "sender": "딸"}, "msg-text", "올바르지 않은 값입니다."),
        ("ko", {"text": TEXT, "sender": ""}, "msg-sender", "꼭 적어 주세요."),
    ]
    for lang, form, field, expected in cases:
        async with browser_client(app, **{"accept-language": lang}) as client:
            b = Browser(client)
            await b.login("alice")
            await b.get(URL)
            r = await b.post(URL, form | {"valid_hours": "12"})
        assert r.status_code == 422, form
        assert f'id="{field}-err"' in r.text
        assert expected in r.text
    assert _stored(sessions) == []
    assert publisher.sent == []


async def test_another_seniors_robot_is_never_sent_a_message(
    browser: Browser, world: World, sessions: sessionmaker[Session], publisher: FakePublisher
) -> None:
    await browser.login("alice")
    await browser.get(URL)
    assert (await browser.get("/app/seniors/s-b/messages")).status_code == 404
    r = await browser.post("/app/seniors/s-b/messages", {"text": TEXT, "sender": "딸"})
    assert r.status_code == 404
    assert _stored(sessions) == []
    assert publisher.sent == []


async def test_a_message_without_the_csrf_token_is_refused(
    browser: Browser, world: World, publisher: FakePublisher
) -> None:
    await browser.login("alice")
    r = await browser.http.post(URL, data={"text": TEXT, "sender": "딸"})
    assert r.status_code == 403
    assert publisher.sent == []


async def test_a_senior_without_a_robot_gets_not_sent(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    with sessions() as s, s.begin():
        s.get_one(Device, "dev-a").senior_id = None
    await browser.login("alice")
    await browser.get(URL)
    r = await browser.post(URL, {"text": TEXT, "sender": "딸"})
    assert "the robot could not be reached" in r.text
    assert "Could not be sent to the robot" in r.text


async def test_the_api_sends_messages_and_caps_them_at_twenty_a_day(
    app: FastAPI, world: World, publisher: FakePublisher
) -> None:
    async with http(app) as client:
        alice = await login(client, "alice")
        url = "/seniors/s-a/messages"
        for i in range(20):
            r = await client.post(url, json={"sender": "딸", "text": f"{i}"}, headers=alice)
            assert r.status_code == 201, r.text
        r = await client.post(url, json={"sender": "딸", "text": "one more"}, headers=alice)
        assert r.status_code == 409
        assert len(publisher.sent) == 20
        listed = (await client.get(url, headers=alice)).json()
        assert [m["state"] for m in listed] == ["waiting"] * 20
        r = await client.post(
            "/seniors/s-b/messages", json={"sender": "딸", "text": "x"}, headers=alice
        )
        assert r.status_code == 404


async def test_the_senior_page_links_to_the_messages_in_korean(app: FastAPI, world: World) -> None:
    async with browser_client(app, **{"accept-language": "ko"}) as client:
        b = Browser(client)
        await b.login("alice")
        page = await b.get("/app/seniors/s-a")
        assert f'href="{URL}"' in page.text
        assert "메시지 보내기" in page.text
        form = await b.get(URL)
        assert "로봇에게 메시지" in form.text
