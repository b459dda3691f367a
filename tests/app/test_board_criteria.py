"""The board's care criteria as readable reasons in its rows (Korean and English) and the CSV."""

import csv
import io
from datetime import timedelta
from typing import Any

from fastapi import FastAPI
from sqlalchemy.orm import Session, sessionmaker

from protocol import EventType
from tests.app.conftest import Browser, add_event, browser_client
from tests.cloud.api.conftest import World
from tests.cloud.helpers import NOW


def _add(sessions: sessionmaker[Session], rows: list[tuple[int, EventType, Any]]) -> None:
    with sessions() as s, s.begin():
        for seq, kind, payload in rows:
            add_event(s, seq, kind, NOW - timedelta(hours=100 - seq), payload)


def _missed(seq: int) -> tuple[int, EventType, Any]:
    payload = {"reminder_id": "r1", "kind": "medication", "status": "missed"}
    return seq, EventType.REMINDER, payload


async def test_the_board_row_and_csv_say_which_care_criteria_a_senior_meets(
    app: FastAPI, world: World, sessions: sessionmaker[Session]
) -> None:
    screening = {"instrument": "phq9", "score": 14, "complete": True, "answers": [2, 2]}
    _add(sessions, [_missed(50), _missed(51), _missed(52), (53, EventType.SCREENING, screening)])
    for lang, meds, screened in (
        ("en", "Missed medication 3 times in a row", "Screening over cut-off: phq9 14"),
        ("ko", "약 알림 3회 연속 놓침", "선별검사 기준 초과: phq9 14점"),
    ):
        async with browser_client(app, **{"accept-language": lang}) as client:
            browser = Browser(client)
            await browser.login("alice")
            page = await browser.get("/app/board")
            exported = await browser.get("/app/board.csv")
        assert meds in page.text
        assert screened in page.text
        assert ("Mood down" if lang == "en" else "기분 저하") not in page.text  # no verdict
    table = list(csv.DictReader(io.StringIO(exported.text.lstrip("\ufeff"))))
    got = [(t["missed_medication_streak"], t["mood_drop"], t["screenings_over"]) for t in table]
    assert got == [("3", "", "phq9:14")]
