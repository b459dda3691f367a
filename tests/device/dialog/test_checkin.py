"""Greetings, the daily check-in and its follow-ups, touch and the robot's name."""

from datetime import time, timedelta

from device.sensors import TouchKind
from protocol import EventType
from tests.device.dialog.conftest import SimFactory, at

NO_CHECKIN = {"checkin_from": time(20, 0), "checkin_until": time(20, 0)}  # an empty window


def test_check_in_turns_into_a_mood_follow_up_and_a_song(make_sim: SimFactory) -> None:
    sim = make_sim(at("09:00"), max_offers_per_day=0)
    sim.presence(True)
    sim.advance(timedelta(seconds=5))
    greeting, question = sim.said()
    assert "주무셨어요" in greeting
    assert question == "어젯밤 잘 주무셨어요?"
    sim.hear("네 잘 잤어요")
    assert sim.said()[-1] == "오늘 기분은 어떠세요?"
    sim.hear("좀 우울해")
    assert "무슨 일 있으셨어요" in sim.said()[-1]
    sim.hear("아들이 요즘 전화를 안 해서 속상해", duration_s=3.0)
    assert sim.said()[-1] == "기분 전환으로 노래 한 곡 불러 드릴까요?"
    sim.hear("응 좋아")
    sim.advance(timedelta(seconds=30))
    assert any(s.endswith("불러 드릴게요.") for s in sim.said())
    assert sim.events(EventType.CHECK_IN) == [
        {"question_id": "sleep", "answer": "good", "mood": None},
        {"question_id": "mood", "answer": "sad", "mood": "sad"},
        {"question_id": "mood_followup", "answer": "shared", "mood": "sad"},
    ]


def test_check_in_events_never_carry_words(make_sim: SimFactory) -> None:
    sim = make_sim(at("09:00"), max_offers_per_day=0)
    sim.presence(True)
    sim.advance(timedelta(seconds=5))
    sim.hear("네 잘 잤어요")
    sim.hear("외로워 아무도 안 와")
    sim.hear("우리 딸 영희가 보고 싶어")
    for event in sim.events(EventType.CHECK_IN):
        assert "영희" not in str(event)
        assert "외로워" not in str(event)
    assert {"question_id": "mood", "answer": "lonely", "mood": "lonely"} in sim.events(
        EventType.CHECK_IN
    )


def test_an_unanswered_check_in_is_asked_once_more_then_recorded(make_sim: SimFactory) -> None:
    sim = make_sim(at("14:00"), max_offers_per_day=0)
    sim.presence(True)
    sim.advance(timedelta(minutes=3))
    assert sim.said().count("오늘 기분은 어떠세요?") == 2  # the afternoon asks only the mood
    assert sim.events(EventType.CHECK_IN) == [
        {"question_id": "mood", "answer": "no_answer", "mood": None}
    ]


def test_the_check_in_is_asked_once_a_day(make_sim: SimFactory) -> None:
    sim = make_sim(at("09:00"), max_offers_per_day=0)
    sim.presence(True)
    sim.advance(timedelta(seconds=5))
    sim.hear("잘 잤어")
    sim.hear("좋아요")
    sim.until(at("19:00"), step=timedelta(seconds=30))
    assert sim.said().count("오늘 기분은 어떠세요?") == 1
    sim.presence(False)  # away overnight and into the morning
    sim.until(at("09:30", day=28), step=timedelta(seconds=30))
    assert sim.said().count("오늘 기분은 어떠세요?") == 1
    sim.hear("안녕")
    assert sim.said()[-1] == "어젯밤 잘 주무셨어요?"


def test_greetings_come_once_per_part_of_the_day_when_present(make_sim: SimFactory) -> None:
    sim = make_sim(at("06:00"), max_offers_per_day=0, **NO_CHECKIN)
    sim.advance(timedelta(minutes=30))
    assert sim.said() == []  # nobody is there
    sim.presence(True)
    sim.advance(timedelta(minutes=30))
    sim.presence(False)
    sim.presence(True)
    sim.advance(timedelta(minutes=30))
    sim.until(at("12:00"), step=timedelta(seconds=30))
    greetings = [
        s for s in sim.said() if "아침" in s or "주무셨어요" in s or "점심" in s or "오후" in s
    ]
    assert len(greetings) == 2  # one morning, one afternoon


def test_greeting_back_when_the_senior_greets_first_even_at_night(make_sim: SimFactory) -> None:
    sim = make_sim(at("23:30"), max_offers_per_day=0)
    sim.presence(True)
    sim.advance(timedelta(minutes=5))
    assert sim.said() == []  # quiet hours
    sim.hear("안녕")
    assert sim.said()[-1] in ("밤이 늦었어요. 편히 쉬세요.", "늦은 시간이네요. 푹 주무세요.")


def test_touch_gets_a_warm_reply_but_not_every_time(make_sim: SimFactory) -> None:
    sim = make_sim(at("15:00"), max_offers_per_day=0, **NO_CHECKIN)
    sim.companion.greeted.add("2026-11-27:afternoon")
    sim.touch(TouchKind.HUG)
    assert "안아" in sim.said()[-1]
    sim.advance(timedelta(seconds=5))
    sim.touch(TouchKind.PAT)
    assert len(sim.said()) == 1  # too soon after the last reply
    sim.advance(timedelta(seconds=40))
    sim.touch(TouchKind.SQUEEZE)
    assert "잡" in sim.said()[-1]


def test_calling_the_robot_by_name_fuzzily(make_sim: SimFactory) -> None:
    sim = make_sim(at("15:00"), max_offers_per_day=0, **NO_CHECKIN)
    sim.companion.greeted.add("2026-11-27:afternoon")
    sim.hear("돌봄아")
    assert sim.said()[-1] in ("네, 부르셨어요?", "네, 여기 있어요. 말씀하세요.")
    sim.hear("어 그게 뭐였더라")
    assert "옛날이야기, 노래, 퀴즈" in sim.said()[-1]
    sim.hear("오늘 뉴스 봤어")  # not addressed: the robot does not butt in
    assert "오늘 뉴스" not in sim.said()[-1]
    assert len(sim.said()) == 2


def test_a_spontaneous_sad_gets_a_follow_up(make_sim: SimFactory) -> None:
    sim = make_sim(at("15:00"), max_offers_per_day=0, **NO_CHECKIN)
    sim.companion.greeted.add("2026-11-27:afternoon")
    sim.hear("너무 슬퍼")
    assert "무슨 일 있으셨어요" in sim.said()[-1]
    assert sim.events(EventType.CHECK_IN) == [
        {"question_id": "spontaneous", "answer": "sad", "mood": "sad"}
    ]


def test_stop_hushes_the_robot_for_an_hour(make_sim: SimFactory) -> None:
    sim = make_sim(at("14:00"), **NO_CHECKIN, offer_idle=timedelta(minutes=1))
    sim.companion.greeted.add("2026-11-27:afternoon")
    sim.presence(True)
    sim.hear("조용히 해 줘")
    assert sim.said()[-1].startswith("알겠어요. 조용히 있을게요")
    sim.advance(timedelta(minutes=59))
    assert len(sim.said()) == 1
    sim.advance(timedelta(minutes=5))
    assert len(sim.said()) == 2  # an offer, after the hour


def test_english_check_in(make_sim: SimFactory) -> None:
    sim = make_sim(at("09:00"), language="en", max_offers_per_day=0)
    sim.presence(True)
    sim.advance(timedelta(seconds=5))
    assert sim.said()[-1] == "Did you sleep well last night?"
    sim.hear("yes I slept well")
    assert sim.said()[-1] == "How are you feeling today?"
    sim.hear("I feel lonely")
    assert "keep you company" in sim.said()[-1]


def test_talk_about_caring_is_not_a_call_of_the_robots_name(make_sim: SimFactory) -> None:
    sim = make_sim(at("15:00"), max_offers_per_day=0, **NO_CHECKIN)
    sim.companion.greeted.add("2026-11-27:afternoon")
    sim.hear("요즘 손주 돌보느라 힘들어")
    sim.hear("돌봄아 이리 와")
    assert sim.said() == ["네, 여기 있어요. 말씀하세요."]


def test_a_cry_of_pain_answering_the_check_in_is_recorded_while_safety_takes_over(
    make_sim: SimFactory,
) -> None:
    sim = make_sim(at("14:00"), max_offers_per_day=0)
    sim.presence(True)
    sim.advance(timedelta(seconds=5))
    assert sim.said()[-1] == "오늘 기분은 어떠세요?"
    spoken = len(sim.said())
    sim.hear_for_safety("아파요")
    sim.advance(timedelta(minutes=2), safety=True)
    assert len(sim.said()) == spoken  # the safety loop speaks, not the companion
    assert sim.events(EventType.CHECK_IN) == [
        {"question_id": "mood", "answer": "pain", "mood": "pain"}
    ]
