"""A caregiver's message on the robot: said at a good moment (the senior there, not in quiet
hours, no safety check, the floor free), otherwise it waits, in a bounded queue, until it
expires; every outcome is reported with the id only. Time is simulated."""

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from device.clock import ScaledClock
from device.dialog.actions import Say
from device.dialog.stage import DialogStage, MessageArrived
from device.sensors import TouchKind
from protocol import Command, CommandType, EventType
from protocol.commands import SayMessagePayload
from tests.device.dialog.conftest import SEOUL, SimFactory, at, said_texts
from tests.device.dialog.test_stage import FakeContext, _config

TEXT = "엄마, 저녁에 전화할게요"


def _message(
    message_id: str = "m1", *, expires: datetime | None = None, text: str = TEXT
) -> SayMessagePayload:
    return SayMessagePayload(
        message_id=message_id,
        sender="딸 지영",
        text=text,
        expires_at=expires or at("23:59"),
    )


def _spoken(sim: Any) -> list[str]:
    return [t for t in sim.said() if TEXT in t]


def test_a_message_waits_until_the_senior_is_there_then_is_said_once(
    make_sim: SimFactory,
) -> None:
    sim = make_sim(at("09:00"))
    assert sim.companion.message(_message(), sim.now) == []
    sim.advance(timedelta(hours=1))
    assert _spoken(sim) == []  # nobody seen: it waits
    sim.presence(True)
    sim.advance(timedelta(seconds=10))
    [line] = _spoken(sim)
    assert line == f'딸 지영님이 메시지를 보내셨어요. "{TEXT}"'
    [event] = sim.events(EventType.MESSAGE)
    assert event["message_id"] == "m1"
    assert event["status"] == "spoken"
    assert 3600 <= event["waited_s"] <= 3610
    sim.advance(timedelta(hours=1))
    assert len(_spoken(sim)) == 1


def test_the_report_carries_no_words_of_anyone(make_sim: SimFactory) -> None:
    sim = make_sim(at("09:00"))
    sim.presence(True)
    sim.companion.message(_message(), sim.now)
    sim.advance(timedelta(seconds=10))
    [event] = sim.events(EventType.MESSAGE)
    assert set(event) == {"message_id", "status", "waited_s"}
    assert TEXT not in str(event)


def test_a_message_waits_out_the_quiet_hours(make_sim: SimFactory) -> None:
    sim = make_sim(at("23:00"))
    sim.presence(True)
    sim.companion.message(_message(expires=at("12:00", day=28)), sim.now)
    sim.until(at("06:59", day=28), step=timedelta(minutes=1))
    assert _spoken(sim) == []
    sim.until(at("07:10", day=28), step=timedelta(minutes=1))
    [(when, _)] = [(t, x) for t, x in sim.said_at() if TEXT in x]
    assert at("07:00", day=28) <= when <= at("07:01", day=28)


def test_a_message_waits_while_the_safety_loop_runs(make_sim: SimFactory) -> None:
    sim = make_sim(at("10:00"))
    sim.presence(True)
    sim.companion.message(_message(), sim.now)
    sim.advance(timedelta(minutes=5), safety=True)
    assert _spoken(sim) == []
    assert sim.events(EventType.MESSAGE) == []
    sim.advance(timedelta(seconds=10))
    assert len(_spoken(sim)) == 1


def test_a_message_waits_for_a_lull_in_the_conversation(make_sim: SimFactory) -> None:
    sim = make_sim(at("14:00"))
    sim.hear("오늘 날씨가 좋네")
    start = sim.now
    sim.companion.message(_message(), sim.now)
    sim.advance(timedelta(minutes=1))
    assert _spoken(sim) == []  # someone spoke a moment ago
    sim.advance(timedelta(minutes=5))
    [(when, _)] = [(t, x) for t, x in sim.said_at() if TEXT in x]
    assert start + timedelta(minutes=2) <= when <= start + timedelta(minutes=3)


def test_without_a_presence_sensor_a_message_needs_a_recent_sign(make_sim: SimFactory) -> None:
    sim = make_sim(at("14:00"))
    sim.hear("돌봄아")
    sim.advance(timedelta(minutes=20))  # the last sign is 20 minutes old
    sim.companion.message(_message(), sim.now)
    sim.advance(timedelta(minutes=30))
    assert _spoken(sim) == []
    sim.touch(TouchKind.PAT)
    sim.advance(timedelta(minutes=3))
    assert len(_spoken(sim)) == 1


def test_an_unsaid_message_expires_and_is_reported(make_sim: SimFactory) -> None:
    sim = make_sim(at("09:00"))
    sim.companion.message(_message(expires=at("10:00")), sim.now)
    sim.until(at("10:30"), step=timedelta(minutes=1))
    sim.presence(True)
    sim.advance(timedelta(minutes=5))
    assert _spoken(sim) == []
    [event] = sim.events(EventType.MESSAGE)
    assert (event["status"], event["waited_s"]) == ("expired", 3600.0)


def test_a_message_already_expired_on_arrival_is_reported_at_once(make_sim: SimFactory) -> None:
    sim = make_sim(at("09:00"))
    actions = sim.companion.message(_message(expires=at("08:00")), sim.now)
    assert [a.payload.model_dump(mode="json")["status"] for a in actions] == ["expired"]  # type: ignore[union-attr]


def test_the_queue_is_bounded_and_the_overflow_is_reported(make_sim: SimFactory) -> None:
    sim = make_sim(at("09:00"))
    limit = sim.companion.messages.policy.max_pending
    for i in range(limit):
        assert sim.companion.message(_message(f"m{i}"), sim.now) == []
    [dropped] = sim.companion.message(_message("extra"), sim.now)
    assert dropped.payload.model_dump(mode="json")["status"] == "dropped"  # type: ignore[union-attr]
    assert len(sim.companion.messages.pending) == limit


def test_a_message_delivered_twice_is_said_once(make_sim: SimFactory) -> None:
    sim = make_sim(at("09:00"))
    sim.presence(True)
    sim.companion.message(_message(), sim.now)
    sim.companion.message(_message(), sim.now)
    sim.advance(timedelta(minutes=5))
    sim.companion.message(_message(), sim.now)  # a late redelivery of the same command
    sim.advance(timedelta(minutes=5))
    assert len(_spoken(sim)) == 1
    assert len(sim.events(EventType.MESSAGE)) == 1


def test_two_messages_are_said_oldest_first_with_a_pause_between(make_sim: SimFactory) -> None:
    sim = make_sim(at("09:00"))
    sim.presence(True)
    sim.companion.message(_message("a", text="첫째"), sim.now)
    sim.companion.message(_message("b", text="둘째"), sim.now)
    sim.advance(timedelta(minutes=10))
    said = [x for x in sim.said() if "첫째" in x or "둘째" in x]
    assert len(said) == 2
    assert "첫째" in said[0]
    times = [t for t, x in sim.said_at() if "첫째" in x or "둘째" in x]
    assert times[1] - times[0] >= timedelta(minutes=2)  # not back to back: a lull first


def _command(payload: dict[str, Any]) -> Command:
    return Command(
        command_id="say-1",
        device_id="robot-dialog",
        ts=at("09:00"),
        type=CommandType.SAY_MESSAGE,
        payload=payload,
    )


def test_the_stage_queues_a_message_durably_and_says_it_after_a_reboot(tmp_path: Path) -> None:
    config = _config(tmp_path)
    clock = ScaledClock(1.0, datetime(2026, 11, 27, 9, 0, tzinfo=SEOUL))
    first = DialogStage.from_config(config)
    ctx = FakeContext(clock)
    first.start(ctx)
    result = first.on_command(_command(_message().model_dump(mode="json")))
    assert result is not None
    assert (result.ok, result.detail) == (True, "message m1 queued")
    [arrived] = ctx.posted
    assert isinstance(arrived, MessageArrived)
    first.handle(arrived, 0.0)  # saved at once: no stop() before the power cut

    second = DialogStage.from_config(config)
    ctx2 = FakeContext(clock)
    second.start(ctx2)
    assert [m.message_id for m in second.companion.messages.pending] == ["m1"]
    second.companion.presence(True, second.companion.messages.pending[0].received_at)
    second.tick(1.0)
    assert any(TEXT in line for line in ctx2.said)
    assert [(t, p["status"]) for t, p in ctx2.emitted if t is EventType.MESSAGE] == [
        (EventType.MESSAGE, "spoken")
    ]


def test_the_stage_refuses_a_malformed_message_with_a_reason(tmp_path: Path) -> None:
    stage = DialogStage.from_config(_config(tmp_path))
    ctx = FakeContext(ScaledClock(1.0, datetime(2026, 11, 27, 9, 0, tzinfo=SEOUL)))
    stage.start(ctx)
    bad = _message().model_dump(mode="json") | {"text": "x" * 201}
    result = stage.on_command(_command(bad))
    assert result is not None
    assert not result.ok
    assert result.detail.startswith("bad message: text:")
    assert ctx.posted == []


def test_said_texts_helper_sees_the_message_line(make_sim: SimFactory) -> None:
    sim = make_sim(at("09:00"), language="en")
    sim.presence(True)
    sim.companion.message(_message(text="Call you tonight, Mom"), sim.now)
    actions = sim.advance(timedelta(seconds=10))
    assert 'A message from 딸 지영: "Call you tonight, Mom"' in said_texts(actions)
    assert any(isinstance(a, Say) for a in actions)
