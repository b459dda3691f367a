"""Spoken screening: item by item, re-asked once, scored on the robot, paused by a call for help."""

from datetime import timedelta

from protocol import EventType
from protocol.instruments import get_instrument
from protocol.instruments import score as published_score
from tests.device.dialog.conftest import Sim, SimFactory, at

GDS = {"screenings": [{"id": "baseline", "instrument": "sgds_k", "due": "2026-11-27"}]}
UCLA = {"screenings": [{"id": "ucla-w1", "instrument": "ucla3", "due": "2026-11-27"}]}
# The senior's answers to the 15 items: yes where the item is reverse-keyed scores nothing.
ANSWERS = [
    "예",
    "아니요",
    "아니요",
    "네",
    "그래요",
    "아니",
    "응",
    "아니요",
    "네",
    "아니요",
    "예",
    "아니요",
    "네",
    "아니요",
    "아니요",
]


def _start(sim: Sim) -> None:
    sim.companion.greeted.add("2026-11-27:morning")
    sim.companion.checkin_day = "2026-11-27"
    sim.presence(True)
    sim.advance(timedelta(seconds=5))


def test_gds_is_asked_item_by_item_and_scored_by_the_published_key(make_sim: SimFactory) -> None:
    sim = make_sim(at("10:00"), schedule=GDS, max_offers_per_day=0)
    _start(sim)
    assert sim.said()[-1].endswith("지금 몇 가지 여쭤봐도 될까요?")
    sim.hear("네 괜찮아요")
    items = get_instrument("sgds_k").items
    for i, answer in enumerate(ANSWERS):
        assert sim.said()[-1] == items[i].ko
        sim.hear(answer)
    assert sim.said()[-1] == "대답해 주셔서 고마워요. 모두 끝났어요."
    [event] = sim.events(EventType.SCREENING)
    codes = [1, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0]
    assert event["answers"] == codes
    assert event["score"] == published_score("sgds_k", codes).total
    assert event["complete"] is True
    assert event["instrument"] == "sgds_k"


def test_an_unclear_answer_is_asked_once_more_then_skipped(make_sim: SimFactory) -> None:
    sim = make_sim(at("10:00"), schedule=GDS, max_offers_per_day=0)
    _start(sim)
    sim.hear("네")
    first = get_instrument("sgds_k").items[0].ko
    sim.hear("글쎄요 잘 모르겠네")
    assert sim.said()[-1] == f"예, 아니오로 말씀해 주세요. {first}"
    sim.hear("음 어쩌면")
    assert sim.said()[-1] == get_instrument("sgds_k").items[1].ko  # skipped, on to item 2
    sim.advance(timedelta(seconds=35))  # silence: asked once more...
    assert sim.said()[-1].startswith("예, 아니오로 말씀해 주세요.")
    sim.advance(timedelta(seconds=35))  # ...then skipped
    assert sim.said()[-1] == get_instrument("sgds_k").items[2].ko
    for _ in range(13):
        sim.hear("아니요")
    [event] = sim.events(EventType.SCREENING)
    assert event["answers"][:3] == [None, None, 0]
    assert event["complete"] is False
    inst = get_instrument("sgds_k")  # items 3-15 all "no": the reverse-keyed ones score
    expected = sum(1 for item in inst.items[2:] if item.reverse)
    assert event["score"] == float(expected)


def test_a_call_for_help_pauses_the_screening_and_it_resumes_at_the_same_item(
    make_sim: SimFactory,
) -> None:
    sim = make_sim(at("10:00"), schedule=GDS, max_offers_per_day=0)
    _start(sim)
    sim.hear("네")
    for answer in ANSWERS[:6]:
        sim.hear(answer)
    items = get_instrument("sgds_k").items
    assert sim.said()[-1] == items[6].ko
    said_before = len(sim.said())
    sim.advance(timedelta(minutes=3), safety=True)  # "살려 주세요": the safety loop has the floor
    assert len(sim.said()) == said_before  # not a word from the companion meanwhile
    sim.advance(timedelta(minutes=10))
    assert len(sim.said()) == said_before  # not straight away after, either
    for _ in range(15 * 12):  # it comes back on its own, a while later
        sim.advance(timedelta(seconds=5))
        if len(sim.said()) > said_before:
            break
    assert sim.said()[-1] == "지난번에 하던 질문을 이어서 여쭤봐도 될까요?"
    sim.hear("그래")
    assert sim.said()[-1] == items[6].ko  # item 7, where it stopped
    for answer in ANSWERS[6:]:
        sim.hear(answer)
    [event] = sim.events(EventType.SCREENING)
    assert event["answers"] == [1, 0, 0, 1, 1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 0]
    assert event["complete"] is True


def test_not_now_postpones_the_screening(make_sim: SimFactory) -> None:
    sim = make_sim(at("10:00"), schedule=GDS, max_offers_per_day=0)
    _start(sim)
    sim.hear("아니 지금은 싫어")
    assert sim.said()[-1] == "알겠어요. 다음에 여쭤볼게요."
    asked = [s for s in sim.said() if s.endswith("지금 몇 가지 여쭤봐도 될까요?")]
    sim.advance(timedelta(minutes=90), step=timedelta(seconds=30))
    assert [s for s in sim.said() if s.endswith("여쭤봐도 될까요?")] == asked
    sim.advance(timedelta(minutes=35), step=timedelta(seconds=30))
    assert sim.said()[-1].endswith("지금 몇 가지 여쭤봐도 될까요?")


def test_ucla3_is_answered_on_its_scale(make_sim: SimFactory) -> None:
    sim = make_sim(at("10:00"), schedule=UCLA, max_offers_per_day=0)
    _start(sim)
    sim.hear("네")
    assert "'거의 없다', '가끔 있다', '자주 있다' 중에서 말씀해 주세요." in sim.said()[-1]
    sim.hear("가끔 있어")
    sim.hear("자주 있지")
    sim.hear("거의 없어요")
    [event] = sim.events(EventType.SCREENING)
    assert event["answers"] == [2, 3, 1]
    assert event["score"] == 6.0
    assert event["complete"] is True


def test_a_screening_past_its_window_sends_what_was_answered(make_sim: SimFactory) -> None:
    sim = make_sim(at("10:00"), schedule=GDS, max_offers_per_day=0)
    _start(sim)
    sim.hear("네")
    sim.hear("예")
    sim.hear("그만")
    assert sim.said()[-1] == "알겠어요. 나중에 이어서 할게요."
    sim.presence(False)
    sim.until(at("10:00") + timedelta(days=8), step=timedelta(minutes=5))  # due + 7 days passed
    [event] = sim.events(EventType.SCREENING)
    assert event["answers"][0] == 1
    assert event["answers"][1:] == [None] * 14
    assert event["complete"] is False


def test_an_english_ucla3_in_english_words(make_sim: SimFactory) -> None:
    sim = make_sim(at("10:00"), language="en", schedule=UCLA, max_offers_per_day=0)
    _start(sim)
    assert sim.said()[-1].endswith("May I ask you a few questions now?")
    sim.hear("yes of course")
    assert sim.said()[-1].startswith("How often do you feel that you lack companionship?")
    sim.hear("hardly ever")
    sim.hear("um, I'd say some of the time")
    sim.hear("not often, no")  # neither option: asked once more
    assert sim.said()[-1].startswith("Please choose one of:")
    sim.hear("often")
    [event] = sim.events(EventType.SCREENING)
    assert event["answers"] == [1, 2, 3]
