"""Scenario files: the committed ones load; a bad one is refused with a message saying where."""

from pathlib import Path

import pytest

from firmware_sim.scenario import ScenarioError, load_scenario, parse_duration
from firmware_sim.world import EventKind

SCENARIOS = sorted(
    (Path(__file__).resolve().parents[2] / "firmware_sim" / "scenarios").glob("*.toml")
)

GOOD = """
name = "tiny"
start = 2026-11-23T09:00:00+09:00
duration = "10m"

[[segment]]
at = "0s"
activity = "sitting"

[[event]]
at = "5m"
kind = "fall"
fall = "forward"
id = "fall"

[[expect]]
alert = "fall"
after = "fall"
within = "60s"
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "s.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_committed_scenario_loads_and_builds_its_world(path: Path) -> None:
    scenario = load_scenario(path)
    assert scenario.name == path.stem
    assert scenario.expectations
    world = scenario.world()
    assert world.segments[0].start_s <= 0.0
    assert world.end_s >= scenario.duration_s
    for e in scenario.expectations:
        if e.after:
            assert 0 <= scenario.event_time(e.after) <= scenario.duration_s


@pytest.mark.parametrize(
    ("value", "seconds"),
    [(90, 90.0), (1.5, 1.5), ("45s", 45.0), ("10m", 600.0), ("1h30m", 5400.0), ("2d2h", 180000.0)],
)
def test_durations_are_read_in_several_forms(value: object, seconds: float) -> None:
    assert parse_duration(value, "here") == seconds


@pytest.mark.parametrize("value", ["", "ten minutes", "5x", -3, True, "1h 30"])
def test_a_bad_duration_is_refused(value: object) -> None:
    with pytest.raises(ScenarioError, match="here"):
        parse_duration(value, "here")


def test_a_good_file_loads(tmp_path: Path) -> None:
    scenario = load_scenario(_write(tmp_path, GOOD))
    assert scenario.duration_s == 600.0
    assert scenario.events[0].kind is EventKind.FALL
    assert scenario.event_time("fall") == 300.0
    world = scenario.world()
    assert world.segment_at(310.0).label == "on the floor after a fall"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('duration = "10m"', ""), "duration: 꼭 필요한 키입니다 / Field required"),
        (
            ('name = "tiny"', 'name = "Tiny Scenario"'),
            "name = 'Tiny Scenario': .*lowercase id",
        ),
        (
            ("start = 2026-11-23T09:00:00+09:00", "start = 2026-11-23T09:00:00"),
            "start = 2026-11-23T09:00:00: UTC 오프셋이 있는 .* / Input should have timezone info",
        ),
        (('duration = "10m"', 'duration = "10m"\nspeeed = 5'), "speeed = 5: 알 수 없는 키입니다"),
        (('kind = "fall"', 'kind = "trip"'), "event #1 kind = 'trip': .*'trip' is not one of"),
        (('fall = "forward"', 'fall = "down the stairs"'), "event #1 fall = 'down the stairs'"),
        (('fall = "forward"', ""), "event #1 fall: 꼭 필요한 키입니다"),
        (('at = "5m"', 'at = "20m"'), "event #1 at: .* after the end"),
        (
            ('after = "fall"', 'after = "the-fall"'),
            "expect #1 after = 'the-fall': .*no event",
        ),
        (('alert = "fall"', 'alert = "fall"\nevent = "fall"'), "expect #1: .*exactly one of"),
        (('activity = "sitting"', 'activity = "dancing"'), "segment #1 activity = 'dancing'"),
        (('within = "60s"', 'within = "soon"'), "expect #1 within = 'soon': .*not a duration"),
        # hostile or careless input: wrong types, out of range, injected keys
        (('duration = "10m"', 'duration = "10m"\nspeed = true'), "speed = True: 숫자여야 합니다"),
        (('duration = "10m"', 'duration = "10m"\nseed = -1'), "seed = -1: "),
        (('duration = "10m"', 'duration = "10m"\nspeed = inf'), "speed = inf: "),
        (('id = "fall"', 'id = "fall"\nevil = "<script>"'), "event #1 evil = '<script>': 알 수"),
        (('duration = "10m"', 'duration = "10m"\nrobot = 5'), r"\[robot\] = 5: 표"),
        (('id = "fall"', 'id = "../../etc"'), "event #1 id = '../../etc': .*short lowercase id"),
        (('at = "5m"', "at = -5"), "event #1 at = -5: .*can't be negative"),
        (('within = "60s"', "within = []"), "expect #1 within: "),
    ],
)
def test_a_bad_file_is_refused_naming_file_key_and_reason(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in GOOD
    path = _write(tmp_path, GOOD.replace(old, new, 1))
    with pytest.raises(ScenarioError, match=message) as info:
        load_scenario(path)
    assert str(info.value).startswith(f"{path}: ")
    assert " / " in str(info.value)  # Korean, then English


def test_every_problem_of_an_entry_is_listed(tmp_path: Path) -> None:
    bad = GOOD.replace('fall = "forward"', 'fall = "up"\nzone = "head"')
    with pytest.raises(ScenarioError) as info:
        load_scenario(_write(tmp_path, bad))
    lines = str(info.value).splitlines()
    assert len(lines) == 2
    assert "event #1 fall = 'up'" in lines[0]
    assert "event #1 zone = 'head': 알 수 없는 키입니다" in lines[1]


def test_a_say_event_needs_text_or_an_existing_clip(tmp_path: Path) -> None:
    both = GOOD + '\n[[event]]\nat = "6m"\nkind = "say"\ntext = "괜찮아요"\nclip = "x.wav"\n'
    with pytest.raises(ScenarioError, match="exactly one of `text` or `clip`"):
        load_scenario(_write(tmp_path, both))
    missing = GOOD + '\n[[event]]\nat = "6m"\nkind = "say"\nclip = "nowhere.wav"\n'
    with pytest.raises(ScenarioError, match=r"clip nowhere\.wav does not exist"):
        load_scenario(_write(tmp_path, missing))


def test_a_missing_or_broken_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ScenarioError, match="does not exist"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(ScenarioError, match="not valid TOML"):
        load_scenario(_write(tmp_path, "name = \n"))


def test_the_same_seed_makes_the_same_day(tmp_path: Path) -> None:
    day = GOOD.replace('duration = "10m"', 'duration = "24h"\nroutine = "day"')
    day = day.replace('[[segment]]\nat = "0s"\nactivity = "sitting"\n', "")
    scenario = load_scenario(_write(tmp_path, day))
    assert scenario.world(3).segments == scenario.world(3).segments
    assert scenario.world(3).segments != scenario.world(4).segments
