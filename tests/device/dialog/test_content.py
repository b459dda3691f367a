"""Content packs load and are complete; offers come when the senior is idle; likes are learnt."""

from datetime import time, timedelta
from pathlib import Path

import pytest

from device.content.library import (
    Category,
    ContentError,
    ContentLibrary,
    load_library,
    load_pack,
)
from device.dialog.content import Preferences, said
from tests.device.dialog.conftest import SimFactory, at

NO_CHECKIN = {"checkin_from": time(20, 0), "checkin_until": time(20, 0)}
IDLE_OFFERS = {"offer_idle": timedelta(minutes=10), **NO_CHECKIN}


@pytest.mark.parametrize("language", ["ko", "en"])
@pytest.mark.parametrize("category", list(Category))
def test_every_category_ships_at_least_a_dozen_items(
    library: ContentLibrary, language: str, category: Category
) -> None:
    items = library.items(language, category)
    assert len(items) >= 12
    assert len({i.id for i in items}) == len(items)
    for item in items:
        if category is Category.QUIZ:
            assert item.question
            assert item.answer
            assert item.accept
        elif category is Category.GAME:
            assert 3 <= len(item.words) <= 6
        else:
            assert len(item.lines) >= 2


def test_every_quiz_accepts_its_own_answer(library: ContentLibrary) -> None:
    for language in ("ko", "en"):
        for item in library.items(language, Category.QUIZ):
            assert any(said(a, item.answer, language) for a in item.accept), item.key


def _pack(tmp_path: Path, body: str) -> Path:
    path = tmp_path / "pack.toml"
    path.write_text(body, encoding="utf-8")
    return path


GOOD = """
[pack]
language = "ko"
category = "story"
[[items]]
id = "a"
title = "제목"
lines = ["하나", "둘"]
"""


def test_a_pack_in_the_format_loads(tmp_path: Path) -> None:
    [item] = load_pack(_pack(tmp_path, GOOD))
    assert (item.key, item.title, item.lines) == ("story:a", "제목", ("하나", "둘"))


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("[pack\n", "not valid TOML"),
        (GOOD.replace('category = "story"', 'category = "dance"'), "category must be one of"),
        (GOOD.replace('language = "ko"', 'language = "fr"'), "language must be 'ko' or 'en'"),
        (GOOD.replace('lines = ["하나", "둘"]', ""), "a story needs lines"),
        (GOOD.replace('id = "a"', 'id = "A b"'), "id must be"),
        (GOOD + '[[items]]\nid = "a"\ntitle = "x"\nlines = ["1", "2"]\n', "appears twice"),
        (
            GOOD.replace('title = "제목"', 'title = "제목"\ncolour = "red"'),
            "unknown field(s) colour",
        ),
        (GOOD.replace('lines = ["하나", "둘"]', 'lines = ["하나"]'), "list of 2 to"),
    ],
)
def test_a_bad_pack_is_refused_with_a_clear_error(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(ContentError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_pack(_pack(tmp_path, body))


def test_extra_content_folders_add_to_the_shipped_packs(tmp_path: Path) -> None:
    _pack(tmp_path, GOOD.replace('id = "a"', 'id = "family-story"'))
    library = load_library([tmp_path])
    assert library.get("ko", "story:family-story") is not None
    assert library.get("ko", "story:heungbu") is not None
    with pytest.raises(ContentError, match="does not exist"):
        load_library([tmp_path / "missing"])


def test_content_is_offered_when_the_senior_is_idle_and_present(make_sim: SimFactory) -> None:
    sim = make_sim(at("14:00"), **IDLE_OFFERS)
    sim.companion.greeted.add("2026-11-27:afternoon")
    sim.advance(timedelta(minutes=30))
    assert sim.said() == []  # nobody home
    sim.presence(True)
    sim.hear("오늘 날씨가 좋네")
    sim.advance(timedelta(minutes=9))
    assert sim.said() == []  # the senior spoke a moment ago
    for _ in range(24):
        sim.advance(timedelta(seconds=5))
        if sim.said():
            break
    assert sim.said() == ["심심하지 않으세요? '흥부와 놀부' 이야기 들려 드릴까요?"]
    sim.hear("그래 들려줘")
    sim.advance(timedelta(minutes=2))
    lines = sim.said()[1:]
    assert lines[0] == "그럼 '흥부와 놀부' 이야기 들려 드릴게요."
    assert "옛날 어느 마을에" in lines[1]
    assert sim.said()[-1] == "한 번 더 해 드릴까요?"
    assert sim.companion.prefs.counts["story:heungbu"]["finished"] == 1


def test_offers_stop_at_the_daily_limit(make_sim: SimFactory) -> None:
    sim = make_sim(
        at("09:00"), max_offers_per_day=2, offer_every=timedelta(minutes=30), **NO_CHECKIN
    )
    sim.companion.greeted.update(
        {"2026-11-27:morning", "2026-11-27:afternoon", "2026-11-27:evening"}
    )
    sim.presence(True)
    sim.until(at("20:00"), step=timedelta(seconds=30))
    offers = [s for s in sim.said() if s.endswith("?")]
    assert len(offers) == 2


def test_stop_during_a_story_counts_as_stopped_early(make_sim: SimFactory) -> None:
    sim = make_sim(at("14:00"), **NO_CHECKIN)
    sim.companion.greeted.add("2026-11-27:afternoon")
    sim.hear("옛날이야기 해 줘")
    assert sim.said()[-1] == "그럼 '흥부와 놀부' 이야기 들려 드릴게요."
    sim.advance(timedelta(seconds=4))
    sim.hear("그만")
    assert sim.said()[-1] == "알겠어요. 여기까지 할게요."
    before = len(sim.said())
    sim.advance(timedelta(minutes=1))
    assert len(sim.said()) == before
    assert sim.companion.prefs.counts["story:heungbu"]["stopped_early"] == 1


def test_the_robot_learns_what_the_senior_enjoys() -> None:
    library = load_library()
    prefs = Preferences()
    now = at("10:00")
    songs = library.items("ko", Category.SONG)
    for song in songs:  # every song played once, a day ago
        prefs.add(song.key, "finished", now - timedelta(days=2))
    loved, disliked = songs[5], songs[0]
    prefs.add(loved.key, "asked_again")
    prefs.add(loved.key, "finished", now - timedelta(days=2))
    prefs.add(disliked.key, "stopped_early", now - timedelta(days=2))
    choice = prefs.choose(library, "ko", Category.SONG, now)
    assert choice is not None
    assert choice.key == loved.key
    prefs.add(loved.key, "finished", now - timedelta(hours=1))  # just played: rest it a day
    second = prefs.choose(library, "ko", Category.SONG, now)
    assert second is not None
    assert second.key not in (loved.key, disliked.key)


def test_a_category_the_senior_likes_is_offered_first() -> None:
    prefs = Preferences()
    prefs.add("song:arirang", "asked_again")
    offered_at = {c.value: "2026-11-27T10:00:00+09:00" for c in Category}
    assert prefs.next_category(offered_at) is Category.SONG
    offered_at["quiz"] = "2026-11-26T10:00:00+09:00"  # a category not offered for a day
    assert prefs.next_category(offered_at) is Category.QUIZ


def test_a_proverb_quiz_takes_a_fuzzy_answer_then_a_hint(make_sim: SimFactory) -> None:
    sim = make_sim(at("14:00"), **NO_CHECKIN)
    sim.companion.greeted.add("2026-11-27:afternoon")
    sim.hear("퀴즈 내 줘")
    assert sim.said()[-1] == "속담 퀴즈예요. '가는 말이 고와야?' 다음에 올 말은 무엇일까요?"
    sim.hear("오는 말이 곱지")
    assert sim.said()[-2].startswith("딩동댕!")
    sim.hear("응 하나 더")
    assert "낮말은 새가 듣고" in sim.said()[-1]
    sim.hear("몰라")
    assert sim.said()[-2] == "정답은 '낮말은 새가 듣고 밤말은 쥐가 듣는다'였어요."


def test_a_memory_game_counts_the_words_remembered(make_sim: SimFactory) -> None:
    sim = make_sim(at("14:00"), **NO_CHECKIN)
    sim.companion.greeted.add("2026-11-27:afternoon")
    sim.hear("기억력 게임 하자")
    assert "사과, 배, 감" in sim.said()[-1]
    sim.advance(timedelta(seconds=6))
    assert sim.said()[-1] == "자, 방금 들으신 단어 중에 생각나는 것을 말씀해 보세요."
    sim.hear("사과하고 감이었나")
    assert sim.said()[-2].startswith("2개를 기억하셨어요!")


def test_an_english_story_on_request(make_sim: SimFactory) -> None:
    sim = make_sim(at("14:00"), language="en", **NO_CHECKIN)
    sim.companion.greeted.add("2026-11-27:afternoon")
    sim.hear("tell me a story please")
    sim.advance(timedelta(minutes=1))
    assert sim.said()[0] == "Here is the story of 'The Tortoise and the Hare'."
    assert sim.said()[-1] == "Shall we do it once more?"
