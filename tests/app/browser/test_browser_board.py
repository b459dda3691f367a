"""The agency board at its size in Debian's chromium: 300 seniors of one organisation, logged
in as a care worker: 300 rows, the at-risk seniors first in the risk order (alert, no sign of
life, missed medication, mood decline, screening over its cut-off), the region filter, and no
serious axe-core violation on the board of 300 in Korean and English."""

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, expect
from sqlalchemy import insert

from cloud.accounts import Passwords
from cloud.store.models import Device, Event, OrganisationRegion, OrganisationSenior, Senior
from protocol import EventType
from tests.app.browser.pages import DESKTOP, PHONE, SHOTS, _fits, _login, _open, _serious
from tests.cloud.api.conftest import World
from tests.cloud.api.orgs import add_organisations
from tests.cloud.helpers import NOW

FINE = 294  # with s-a, s-c (north's own) and the four below: 300
AT_RISK = ("z0-silent", "z3-meds", "z2-mood", "z1-screen")  # ids sort after the fine ones


def _seed_board(world: World, passwords: Passwords) -> None:
    """north: 300 seniors, 150 in 강남 (s-a among them), 149 in 송파, s-c in none; a robot each
    but s-c; a touch an hour ago for each but the silent one; the at-risk ones' reminders,
    moods and screening."""
    regions = add_organisations(world, passwords)
    day = timedelta(days=1)
    seniors = [f"f-{i:03d}" for i in range(FINE)] + list(AT_RISK)
    with world.sessions() as s, s.begin():
        songpa = OrganisationRegion(organisation_id="north", name="송파")
        s.add(songpa)
        s.flush()
        s.execute(
            insert(Senior),
            [
                {"id": sid, "display_name": f"어르신 {sid}", "settings": {}, "created_at": NOW}
                for sid in seniors
            ],
        )
        s.execute(
            insert(OrganisationSenior),
            [
                {
                    "senior_id": sid,
                    "organisation_id": "north",
                    "region_id": songpa.id if i % 2 else regions["강남"],
                    "assigned_at": NOW - day,
                }
                for i, sid in enumerate(seniors)
            ],
        )
        s.execute(
            insert(Device),
            [
                {
                    "id": f"r-{sid}",
                    "senior_id": sid,
                    "first_seen": NOW,
                    "last_seen": NOW,
                    "online": True,
                }
                for sid in seniors
            ],
        )
        rows: list[tuple[str, EventType, Any, timedelta]] = []
        touch = {"period_start": NOW.isoformat(), "period_end": NOW.isoformat(), "hug": 1}
        for sid in seniors:
            if sid != "z0-silent":
                rows.append((sid, EventType.TOUCH, touch | {"pat": 0, "squeeze": 0}, day / 24))
        for days_back in (2, 1):
            missed = {"reminder_id": "r1", "kind": "medication", "status": "missed"}
            rows.append(("z3-meds", EventType.REMINDER, missed, days_back * day))
        for i in range(9):
            valence, back = (0.6, (10 + 2 * i) * day) if i < 6 else (0.0, (i - 5) * day)
            mood = {"shares": {"neutral": 1.0}, "valence": valence, "arousal": 0.0}
            mood |= {"utterances": 3, "period_start": NOW.isoformat()}
            rows.append(("z2-mood", EventType.MOOD, mood | {"period_end": NOW.isoformat()}, back))
        phq = {"instrument": "phq9", "score": 16, "complete": True, "answers": [2, 2]}
        rows.append(("z1-screen", EventType.SCREENING, phq, 3 * day))
        s.execute(
            insert(Event),
            [
                {
                    "device_id": f"r-{sid}",
                    "epoch": 0,
                    "seq": seq,
                    "type": kind.value,
                    "priority": "normal",
                    "ts": NOW - back,
                    "received_at": NOW - back,
                    "payload": payload,
                    "model": None,
                }
                for seq, (sid, kind, payload, back) in enumerate(rows, start=1)
            ],
        )


def test_a_care_worker_triages_300_seniors_in_the_browser(
    chromium: Browser,
    base_url: str,
    world: World,
    passwords: Passwords,
) -> None:
    _seed_board(world, passwords)
    page = _open(chromium, base_url, DESKTOP, "en-US")
    _login(page, "dave")
    page.goto("/app/board")
    rows = page.locator("#board-rows tr")
    expect(rows).to_have_count(300, timeout=30_000)
    names = [n.strip() for n in page.locator("#board-rows th").all_inner_texts()]
    # 김순자's emergency; then no sign of life (이영희: no robot, also offline); missed
    # medication; mood decline; screening over the cut-off; then the fine ones by id
    assert names[:7] == [
        "김순자",
        "이영희",
        "어르신 z0-silent",
        "어르신 z3-meds",
        "어르신 z2-mood",
        "어르신 z1-screen",
        "어르신 f-000",
    ]
    assert names[7:] == [f"어르신 f-{i:03d}" for i in range(1, FINE)]
    assert "Missed medication 2 times in a row" in rows.nth(3).inner_text()
    assert "Mood down" in rows.nth(4).inner_text()
    assert "Screening over cut-off: phq9 16" in rows.nth(5).inner_text()
    assert "박말순" not in page.content()  # south's senior
    page.select_option("#region", "송파")
    page.locator("#region").locator("xpath=ancestor::form").locator("button[type=submit]").click()
    page.wait_for_url("**/app/board?*region=*")
    expect(rows).to_have_count(149, timeout=30_000)  # the odd ones of the 298 seeded
    regions = {r.strip() for r in page.locator("#board-rows td:nth-child(3)").all_inner_texts()}
    assert regions == {"송파"}
    names = [n.strip() for n in page.locator("#board-rows th").all_inner_texts()]
    at_risk_here = [n for n in names[:4] if "z" in n]
    assert at_risk_here == [n for n in names if "z" in n]  # the at-risk of 송파 first
    assert page.problems == []  # type: ignore[attr-defined]


@pytest.mark.parametrize("lang", ["ko-KR", "en-US"])
def test_axe_finds_no_serious_violation_on_the_board_of_300(
    chromium: Browser,
    base_url: str,
    world: World,
    passwords: Passwords,
    lang: str,
) -> None:
    _seed_board(world, passwords)
    page = _open(chromium, base_url, PHONE, lang)
    _login(page, "dave")
    page.goto("/app/board")
    expect(page.locator("#board-rows tr")).to_have_count(300, timeout=30_000)
    assert _fits(page, PHONE["width"])  # the table scrolls in its own box, not the page
    if SHOTS and lang == "ko-KR":  # the phone's first screen: the most at risk on top
        page.screenshot(path=str(Path(SHOTS) / "board-phone.png"), caret="initial")
    assert _serious(page) == []
    assert page.problems == []  # type: ignore[attr-defined]
