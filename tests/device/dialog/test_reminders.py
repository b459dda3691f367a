"""Reminders over a fake day: prompts with back-off, confirmed / given / missed, never nagging."""

import json
from datetime import timedelta

from device.content.library import ContentLibrary
from device.dialog.companion import Companion, CompanionSettings
from protocol import EventType
from protocol.commands import SchedulePayload
from tests.device.dialog.conftest import Sim, SimFactory, at

DAY = {
    "timezone": "Asia/Seoul",
    "reminders": [
        {"id": 1, "kind": "medicine", "label": "혈압약", "times": ["08:00", "20:00"]},
        {"id": 2, "kind": "meal", "label": "점심", "times": ["12:00"]},
        {"id": 3, "kind": "water", "label": "물", "times": ["15:00"]},
        {"id": 4, "kind": "walk", "label": "산책", "times": ["17:00"]},
    ],
}


def _statuses(sim: Sim) -> list[tuple[str, str, int]]:
    return [(e["reminder_id"], e["status"], e["attempts"]) for e in sim.events(EventType.REMINDER)]


def test_a_full_day_of_reminders_records_confirmed_given_and_missed(make_sim: SimFactory) -> None:
    sim = make_sim(at("07:00"), schedule=DAY, max_offers_per_day=0)
    sim.presence(True)
    sim.until(at("08:00") + timedelta(seconds=5))
    assert any("혈압약 드실 시간이에요" in s for s in sim.said())
    sim.hear("먹었어")  # confirmed at the first prompt
    sim.until(at("12:00"))
    noon = sim.now
    sim.until(at("13:00"))  # lunch: no answer at all
    lunch_prompts = [t for t, s in sim.said_at() if t >= noon and "점심" in s]
    assert [t.strftime("%H:%M") for t in lunch_prompts] == ["12:00", "12:10", "12:40"]
    sim.until(at("15:00") + timedelta(seconds=5))
    assert any("물 한 잔 드실 시간이에요" in s for s in sim.said())
    sim.hear("아직")
    sim.until(at("15:10") + timedelta(seconds=5))
    assert sim.said()[-1] == "물 드셨어요?"
    sim.hear("응")  # "yes" to "did you?" confirms
    sim.until(at("16:00"))
    sim.presence(False)  # out for the afternoon: the walk reminder is never spoken
    sim.until(at("19:30"))
    assert not any("산책" in s for s in sim.said())
    sim.presence(True)
    sim.until(at("20:00") + timedelta(seconds=5))
    assert "혈압약 드실 시간이에요" in sim.said()[-1]
    sim.hear("네")  # heard it, did not say it was done
    sim.until(at("21:00"))
    assert _statuses(sim) == [
        ("1", "confirmed", 1),
        ("2", "missed", 3),
        ("3", "confirmed", 2),
        ("4", "missed", 0),
        ("1", "given", 1),
    ]


def test_a_reminder_never_prompts_more_than_the_policy_allows(make_sim: SimFactory) -> None:
    sim = make_sim(at("07:50"), schedule=DAY, max_offers_per_day=0)
    sim.presence(True)
    sim.until(at("11:00"))
    medicine = [s for s in sim.said() if "혈압약" in s]
    assert len(medicine) == 3
    assert _statuses(sim) == [("1", "missed", 3)]


def test_no_reminder_interrupts_a_conversation(make_sim: SimFactory) -> None:
    sim = make_sim(at("07:55"), schedule=DAY, max_offers_per_day=0)
    sim.presence(True)
    sim.hear("안녕하세요")
    for _ in range(5):  # the senior keeps chatting every minute past 08:00
        sim.advance(timedelta(minutes=1))
        sim.hear("오늘 날씨가 참 좋네")
    talk_ended = sim.now
    assert not any("혈압약" in s for s in sim.said())
    sim.advance(timedelta(minutes=5))
    [(when, _)] = [(t, s) for t, s in sim.said_at() if "혈압약" in s]
    assert when >= talk_ended + timedelta(minutes=2)


def test_quiet_hours_hold_a_reminder_unless_the_senior_is_awake(make_sim: SimFactory) -> None:
    late = {"reminders": [{"id": 9, "kind": "medicine", "label": "수면제", "times": ["23:00"]}]}
    asleep = make_sim(at("22:00"), schedule=late)
    asleep.presence(True)
    asleep.until(at("02:00", day=28), step=timedelta(seconds=30))
    assert asleep.said() == []
    assert _statuses(asleep) == [("9", "missed", 0)]

    awake = make_sim(at("22:55"), schedule=late)
    awake.presence(True)
    awake.hear("잠이 안 오네")
    awake.until(at("23:00") + timedelta(seconds=5))
    assert any("수면제 드실 시간이에요" in s for s in awake.said())


def test_a_spontaneous_i_took_it_confirms_the_open_reminder(make_sim: SimFactory) -> None:
    sim = make_sim(at("07:30"), schedule=DAY, max_offers_per_day=0)
    sim.presence(True)
    sim.until(at("08:00") + timedelta(seconds=40))  # prompted, no answer
    sim.advance(timedelta(minutes=3))
    sim.hear("약 먹었어요")
    assert _statuses(sim) == [("1", "confirmed", 1)]
    sim.until(at("09:00"))
    assert sum("혈압약" in s for s in sim.said()) == 1


def test_stop_ends_the_prompts_and_is_recorded_as_given(make_sim: SimFactory) -> None:
    sim = make_sim(at("07:30"), schedule=DAY, max_offers_per_day=0)
    sim.presence(True)
    sim.until(at("08:00") + timedelta(seconds=5))
    sim.hear("그만해")
    sim.until(at("10:00"))
    assert sum("혈압약" in s for s in sim.said()) == 1
    assert _statuses(sim) == [("1", "given", 1)]


def test_english_reminders_take_i_took_it(make_sim: SimFactory) -> None:
    schedule = {
        "reminders": [{"id": "bp", "kind": "medicine", "label": "pills", "times": ["08:00"]}]
    }
    sim = make_sim(at("07:30"), language="en", schedule=schedule, max_offers_per_day=0)
    sim.presence(True)
    sim.until(at("08:00") + timedelta(seconds=5))
    assert "It's time for your pills" in sim.said()[-1]
    sim.hear("yes I did, I took it")
    assert _statuses(sim) == [("bp", "confirmed", 1)]


def test_reminders_survive_a_restart_without_repeating(
    make_sim: SimFactory, library: ContentLibrary
) -> None:
    sim = make_sim(at("07:30"), schedule=DAY, max_offers_per_day=0)
    sim.presence(True)
    sim.until(at("08:00") + timedelta(seconds=5))
    sim.hear("먹었어")
    sim.until(at("12:00") + timedelta(seconds=5))  # lunch prompted once, then a power cut
    saved = json.loads(json.dumps(sim.companion.to_dict()))

    reborn = Companion(CompanionSettings(max_offers_per_day=0), library)
    reborn.load(saved)
    after = Sim(reborn, at("12:05"))
    after.presence(True)
    after.until(at("13:00"))
    assert not any("혈압약" in s for s in after.said())
    assert [t.strftime("%H:%M") for t, s in after.said_at() if "점심" in s] == ["12:10", "12:40"]
    assert _statuses(after) == [("2", "missed", 3)]


def test_a_new_schedule_replaces_the_old_one(make_sim: SimFactory) -> None:
    sim = make_sim(at("07:00"), schedule=DAY, max_offers_per_day=0)
    sim.companion.set_schedule(SchedulePayload.model_validate({"reminders": []}))
    sim.presence(True)
    sim.until(at("13:00"))
    assert sim.events(EventType.REMINDER) == []


def test_reminders_follow_the_weekdays_of_the_schedule(make_sim: SimFactory) -> None:
    mondays = {  # the shape the cloud's reminders router sends
        "timezone": "Asia/Seoul",
        "reminders": [
            {"id": 5, "kind": "walk", "label": "산책", "times": ["10:00"], "days": [0]},
        ],
    }
    sim = make_sim(at("09:00"), schedule=mondays, max_offers_per_day=0)  # Friday
    sim.presence(True)
    sim.until(at("11:00"), step=timedelta(seconds=30))
    assert not any("산책" in s for s in sim.said())
    sim.until(at("10:00", day=30) + timedelta(seconds=30), step=timedelta(seconds=30))  # Monday
    assert any("산책 시간이에요" in s for s in sim.said())


def test_i_ate_does_not_confirm_the_medicine(make_sim: SimFactory) -> None:
    both = {
        "reminders": [
            {"id": 1, "kind": "medicine", "label": "혈압약", "times": ["12:30"]},
            {"id": 2, "kind": "meal", "label": "점심", "times": ["12:00"]},
        ]
    }
    sim = make_sim(at("11:30"), schedule=both, max_offers_per_day=0)
    sim.presence(True)
    sim.until(at("12:31"))  # lunch prompted at noon and 12:10, medicine at 12:30
    sim.advance(timedelta(minutes=1))
    sim.hear("밥 먹었어")
    assert _statuses(sim) == [("2", "confirmed", 2)]
    sim.advance(timedelta(minutes=3))
    sim.hear("약 먹었어요")
    assert _statuses(sim) == [("2", "confirmed", 2), ("1", "confirmed", 1)]


def test_i_ate_in_answer_to_the_medicine_prompt_does_not_confirm_it(
    make_sim: SimFactory,
) -> None:
    medicine = {"reminders": [{"id": 1, "kind": "medicine", "label": "혈압약", "times": ["08:00"]}]}
    sim = make_sim(at("07:58"), schedule=medicine, max_offers_per_day=0)
    sim.presence(True)
    sim.companion.greeted.add("2026-11-27:morning")
    sim.companion.checkin_day = "2026-11-27"
    sim.until(at("08:00") + timedelta(seconds=5))
    assert "혈압약 드실 시간이에요" in sim.said()[-1]
    sim.hear("밥은 먹었어")  # the meal, not the pills: ask again, record nothing
    assert _statuses(sim) == []
    assert "혈압약" in sim.said()[-1]
    sim.hear("약도 먹었어")
    assert _statuses(sim) == [("1", "confirmed", 1)]
