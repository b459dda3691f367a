"""The family's editors over HTTP: contacts, the escalation order, reminders and quiet hours go
through the API's handlers (scoping, who may change what, audit, the robot's schedule), and a
wrong field is named next to it in Korean or English with nothing saved."""

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from cloud.store.models import (
    AuditLog,
    CaregiverLink,
    Contact,
    EscalationPolicy,
    ReminderSchedule,
    Senior,
)
from protocol import CommandType
from tests.app.conftest import Browser
from tests.cloud.api.conftest import FakePublisher, World

CARE = "/app/seniors/s-a/care"
CONTACT = {
    "name": "김지영",
    "relation": "딸",
    "channel": "email",
    "target": "jiyoung@example.com",
    "language": "ko",
}


def _make_primary(sessions: sessionmaker[Session], world: World, username: str) -> None:
    with sessions() as s, s.begin():
        s.execute(
            update(CaregiverLink)
            .where(CaregiverLink.account_id == world.ids[username])
            .values(is_primary=True)
        )


def _contacts(sessions: sessionmaker[Session], senior_id: str = "s-a") -> list[Contact]:
    with sessions() as s:
        return list(s.scalars(select(Contact).where(Contact.senior_id == senior_id)))


async def test_the_senior_page_links_to_the_editors(browser: Browser, world: World) -> None:
    await browser.login("alice")
    page = await browser.get("/app/seniors/s-a")
    assert f'href="{CARE}"' in page.text
    care = await browser.get(CARE)
    assert care.status_code == 200
    for heading in ("Contacts", "Escalation order", "Reminders", "Quiet hours"):
        assert heading in care.text


async def test_adding_a_contact_stores_it_and_audits_it(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    await browser.get(CARE)
    r = await browser.post(f"{CARE}/contacts", CONTACT)
    assert r.status_code == 200
    assert "Contact added." in r.text
    assert "김지영" in r.text
    [contact] = _contacts(sessions)
    assert (contact.name, contact.target) == ("김지영", "jiyoung@example.com")
    with sessions() as s:
        rows = s.scalars(
            select(AuditLog).where(AuditLog.action == "create", AuditLog.resource == "contact")
        ).all()
    assert [row.actor for row in rows] == ["caregiver:alice"]


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("en", "Enter an e-mail address."), ("ko", "이메일 주소를 적어 주세요")],
)
async def test_a_bad_email_is_named_next_to_its_field_in_the_callers_language(
    app: object, world: World, sessions: sessionmaker[Session], lang: str, expected: str
) -> None:
    from tests.app.conftest import browser_client

    async with browser_client(app, **{"accept-language": lang}) as client:  # type: ignore[arg-type]
        b = Browser(client)
        await b.login("alice")
        await b.get(CARE)
        r = await b.post(f"{CARE}/contacts", CONTACT | {"target": "not an address"})
    assert r.status_code == 422
    assert expected in r.text
    assert 'id="cnew-target-err"' in r.text
    assert 'aria-describedby="cnew-target-err"' in r.text
    assert 'value="not an address"' in r.text  # what was typed is kept
    assert _contacts(sessions) == []


async def test_missing_and_too_long_fields_are_refused_by_the_api_model(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    await browser.get(CARE)
    r = await browser.post(f"{CARE}/contacts", CONTACT | {"name": "", "relation": "x" * 51})
    assert r.status_code == 422
    assert "This is required." in r.text
    assert "At most 50 characters." in r.text
    assert _contacts(sessions) == []


async def test_a_webhook_contact_to_a_private_address_is_refused(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    await browser.get(CARE)
    body = CONTACT | {"channel": "webhook", "target": "http://127.0.0.1:8080/hook"}
    r = await browser.post(f"{CARE}/contacts", body)
    assert r.status_code == 422
    assert "a private network" in r.text
    assert _contacts(sessions) == []


async def test_htmx_gets_the_errors_as_200_so_it_swaps_them_in(
    browser: Browser, world: World
) -> None:
    await browser.login("alice")
    await browser.get(CARE)
    r = await browser.post(
        f"{CARE}/contacts", CONTACT | {"target": ""}, headers={"hx-request": "true"}
    )
    assert r.status_code == 200
    assert 'id="cnew-target-err"' in r.text


async def test_another_seniors_editors_are_404_and_change_nothing(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    await browser.get(CARE)
    assert (await browser.get("/app/seniors/s-b/care")).status_code == 404
    r = await browser.post("/app/seniors/s-b/care/contacts", CONTACT)
    assert r.status_code == 404
    assert _contacts(sessions, "s-b") == []
    with sessions() as s:
        denied = s.scalars(select(AuditLog).where(AuditLog.action == "denied")).all()
    assert denied


async def test_a_post_without_the_csrf_token_changes_nothing(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    r = await browser.http.post(f"{CARE}/contacts", data=CONTACT)
    assert r.status_code == 403
    assert _contacts(sessions) == []


async def test_a_contact_in_the_escalation_order_cannot_be_deleted(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    _make_primary(sessions, world, "alice")
    await browser.login("alice")
    await browser.get(CARE)
    await browser.post(f"{CARE}/contacts", CONTACT)
    [contact] = _contacts(sessions)
    r = await browser.post(f"{CARE}/policy", {"t0-contacts": str(contact.id), "t0-timeout": "10"})
    assert "Escalation order saved." in r.text
    r = await browser.post(f"{CARE}/contacts/{contact.id}/delete", {})
    assert r.status_code == 409
    assert "take it out of the order first" in r.text
    assert len(_contacts(sessions)) == 1


async def test_the_primary_caregiver_saves_the_escalation_order_in_minutes(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    _make_primary(sessions, world, "alice")
    await browser.login("alice")
    await browser.get(CARE)
    await browser.post(f"{CARE}/contacts", CONTACT)
    await browser.post(f"{CARE}/contacts", CONTACT | {"name": "복지사", "target": "sw@example.com"})
    first, second = sorted(c.id for c in _contacts(sessions))
    form = {
        "t0-contacts": str(first),
        "t0-timeout": "15",
        "t0-renotify": "5",
        "t1-contacts": str(second),
        "t1-timeout": "30",
    }
    r = await browser.post(f"{CARE}/policy", form)
    assert r.status_code == 200
    with sessions() as s:
        policy = s.scalars(select(EscalationPolicy)).one()
    assert policy.tiers["tiers"] == [
        {"contact_ids": [first], "timeout_s": 900, "renotify_s": 300},
        {"contact_ids": [second], "timeout_s": 1800, "renotify_s": None},
    ]


async def test_a_caregiver_who_is_not_primary_cannot_change_the_order(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    page = await browser.get(CARE)
    assert "Only an admin or the senior&#39;s primary caregiver" in page.text
    assert f'action="{CARE}/policy"' not in page.text
    await browser.post(f"{CARE}/contacts", CONTACT)
    [contact] = _contacts(sessions)
    r = await browser.post(f"{CARE}/policy", {"t0-contacts": str(contact.id), "t0-timeout": "10"})
    assert r.status_code == 403
    with sessions() as s:
        assert s.scalars(select(EscalationPolicy)).all() == []


async def test_policy_errors_name_the_tier_and_field(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    _make_primary(sessions, world, "alice")
    await browser.login("alice")
    await browser.get(CARE)
    r = await browser.post(f"{CARE}/policy", {"t0-timeout": "ten"})
    assert r.status_code == 422
    assert 'id="policy-t0-contacts-err"' in r.text
    assert 'id="policy-t0-timeout-err"' in r.text
    assert "Enter a whole number from 1 to 10080." in r.text
    r = await browser.post(f"{CARE}/policy", {"t1-contacts": "999999", "t1-timeout": "5"})
    assert r.status_code == 422
    assert "Pick only this senior&#39;s contacts." in r.text
    assert 'id="policy-t1-contacts-err"' in r.text  # the row it was typed in, not tier 0
    r = await browser.post(f"{CARE}/policy", {})
    assert "At least one tier" in r.text
    with sessions() as s:
        assert s.scalars(select(EscalationPolicy)).all() == []


async def test_a_new_reminder_is_sent_to_the_robot_as_a_schedule(
    browser: Browser, world: World, sessions: sessionmaker[Session], publisher: FakePublisher
) -> None:
    await browser.login("alice")
    await browser.get(CARE)
    form = {"kind": "medicine", "label": "혈압약", "times": "20:00, 08:00", "active": "on"}
    r = await browser.http.post(
        f"{CARE}/reminders",
        content="&".join(
            [f"csrf={browser.csrf}"]
            + [f"{k}={v}" for k, v in form.items()]
            + [f"days={d}" for d in (0, 2, 4)]
        ).encode(),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200, r.text
    assert "sent to 1 robot(s)" in r.text
    with sessions() as s:
        reminder = s.scalars(select(ReminderSchedule)).one()
    assert reminder.times == {"times": ["08:00", "20:00"], "days": [0, 2, 4]}
    [(device, command)] = publisher.sent
    assert (device, command.type) == ("dev-a", CommandType.SCHEDULE)
    assert command.payload["reminders"][0]["label"] == "혈압약"


async def test_a_bad_reminder_time_is_refused_in_korean_and_nothing_is_sent(
    app: object, world: World, sessions: sessionmaker[Session], publisher: FakePublisher
) -> None:
    from tests.app.conftest import browser_client

    async with browser_client(app, **{"accept-language": "ko"}) as client:  # type: ignore[arg-type]
        b = Browser(client)
        await b.login("alice")
        await b.get(CARE)
        form = {"kind": "medicine", "label": "혈압약", "times": "8시", "days": "0"}
        r = await b.post(f"{CARE}/reminders", form)
    assert r.status_code == 422
    assert "시각은 07:30처럼 적어 주세요." in r.text
    assert 'id="rnew-times-err"' in r.text
    with sessions() as s:
        assert s.scalars(select(ReminderSchedule)).all() == []
    assert publisher.sent == []


async def test_editing_and_deleting_a_reminder_resend_the_schedule(
    browser: Browser, world: World, sessions: sessionmaker[Session], publisher: FakePublisher
) -> None:
    await browser.login("alice")
    await browser.get(CARE)
    await browser.post(
        f"{CARE}/reminders", {"kind": "meal", "label": "점심", "times": "12:00", "days": "1"}
    )
    with sessions() as s:
        rid = s.scalars(select(ReminderSchedule.id)).one()
    r = await browser.post(
        f"{CARE}/reminders/{rid}", {"kind": "meal", "label": "점심", "times": "12:30", "days": "1"}
    )
    assert r.status_code == 200
    with sessions() as s:
        stored = s.get_one(ReminderSchedule, rid)
        assert stored.times["times"] == ["12:30"]
        assert stored.active is False  # the box was not ticked
    r = await browser.post(f"{CARE}/reminders/{rid}/delete", {})
    assert r.status_code == 200
    assert [c.type for _, c in publisher.sent] == [CommandType.SCHEDULE] * 3
    assert publisher.sent[-1][1].payload["reminders"] == []


async def test_quiet_hours_by_the_primary_caregiver_and_both_or_neither(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    _make_primary(sessions, world, "alice")
    await browser.login("alice")
    await browser.get(CARE)
    r = await browser.post(f"{CARE}/quiet", {"start": "22:00", "end": ""})
    assert r.status_code == 422
    assert "Give both times, or leave both empty." in r.text
    r = await browser.post(f"{CARE}/quiet", {"start": "22:00", "end": "07:00"})
    assert r.status_code == 200
    with sessions() as s:
        senior = s.get_one(Senior, "s-a")
        assert (senior.quiet_hours_start, senior.quiet_hours_end) == ("22:00", "07:00")
        row = s.scalars(select(AuditLog).where(AuditLog.detail == "quiet_hours 22:00-07:00")).one()
        assert row.actor == "caregiver:alice"
    await browser.post(f"{CARE}/quiet", {"start": "", "end": ""})
    with sessions() as s:
        assert s.get_one(Senior, "s-a").quiet_hours_start is None


async def test_quiet_hours_need_the_primary_caregiver(
    browser: Browser, world: World, sessions: sessionmaker[Session]
) -> None:
    await browser.login("alice")
    await browser.get(CARE)
    r = await browser.post(f"{CARE}/quiet", {"start": "22:00", "end": "07:00"})
    assert r.status_code == 403
    with sessions() as s:
        assert s.get_one(Senior, "s-a").quiet_hours_start is None


async def test_the_api_sets_quiet_hours_for_the_same_people(
    app: object, world: World, sessions: sessionmaker[Session]
) -> None:
    from tests.cloud.api.conftest import http, login

    async with http(app) as client:  # type: ignore[arg-type]
        alice = await login(client, "alice")
        url = "/seniors/s-a/quiet-hours"
        r = await client.put(url, json={"start": "22:00", "end": "07:00"}, headers=alice)
        assert r.status_code == 403
        _make_primary(sessions, world, "alice")
        r = await client.put(url, json={"start": "22:00"}, headers=alice)
        assert r.status_code == 422
        r = await client.put(url, json={"start": "22:00", "end": "07:00"}, headers=alice)
        assert r.status_code == 200
        assert (r.json()["quiet_hours_start"], r.json()["quiet_hours_end"]) == ("22:00", "07:00")
        r = await client.put("/seniors/s-b/quiet-hours", json={}, headers=alice)
        assert r.status_code == 404


def test_every_word_of_the_family_pages_is_in_both_languages() -> None:
    import re
    from pathlib import Path

    from cloud.app.i18n import translations

    templates = Path(__file__).parents[2] / "cloud" / "app" / "templates"
    keys: set[str] = set()
    for name in ("care", "messages", "messages_list", "trends"):
        text = (templates / f"{name}.html.j2").read_text(encoding="utf-8")
        keys |= set(re.findall(r"""\b_\(["']([a-z0-9_]+)["']""", text))
    assert keys  # the pattern found the template's words
    # keys built from a prefix and a value: every value of their enums
    from cloud.api.schemas import MessageState, ReminderKind
    from cloud.store.models import Channel

    keys = {k for k in keys if not k.endswith("_")}
    keys |= {f"ch_{c.value}_opt" for c in Channel} | {f"ch_{c.value}" for c in Channel}
    keys |= {f"rk_{k.value}" for k in ReminderKind} | {f"day_{d}" for d in range(7)}
    keys |= {f"msg_state_{m.value}" for m in MessageState if m is not MessageState.SPOKEN}
    # an unknown key comes back as itself (every catalogue entry is non-empty: test_catalogues)
    ko, en = translations("ko"), translations("en")
    missing = sorted(k for k in keys if k in (ko.gettext(k), en.gettext(k)))
    assert missing == []
