"""The mood stage: an observation per utterance, a `mood` event per period, never the words."""

import json
import shutil
from dataclasses import fields
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest

from device.audio.pipeline import Utterance
from device.config import DeviceConfig, PerceptionConfig
from device.dialog.intents import Intent
from device.main import default_stages
from device.perception.emotion import EmotionModel
from device.perception.mood import EmotionModelSwap, MoodObservation, MoodStage, summarize
from device.stages import Heard
from protocol import Command, CommandType, EventType
from protocol.envelope import make_envelope
from protocol.events import MoodPayload

from .conftest import NOW, RecordingContext

ARTIFACTS = Path(__file__).resolve().parents[3] / "models" / "artifacts"
SR = 16000


@pytest.fixture(scope="module")
def model() -> EmotionModel:
    return EmotionModel.load_newest(ARTIFACTS)


@pytest.fixture
def emotion_dir(tmp_path: Path) -> Path:
    """A private copy of the shipped emotion model (tests may break it)."""
    out = tmp_path / "models"
    out.mkdir()
    for path in ARTIFACTS.glob("emotion-*"):
        shutil.copy(path, out / path.name)
    return out


def _voice(seconds: float = 1.5, f0_hz: float = 160.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    wave = sum(np.sin(2 * np.pi * f0_hz * k * t) / k for k in range(1, 6))
    envelope = np.sin(np.pi * 4.0 * t) ** 2
    out: np.ndarray = (0.1 * envelope * wave / np.abs(wave).max() * 32767).astype(np.int16)
    return out


def _heard(text: str, *, safety: bool = False, audio: bool = True) -> Heard:
    utt = Utterance(0.0, 1.5, text, Intent.NONE, 0.0, "", samples=_voice() if audio else None)
    return Heard(utt, safety=safety)


def _deliver(stage: MoodStage, ctx: RecordingContext) -> list[MoodObservation]:
    """Hand the stage back what it posted, as the agent does."""
    got: list[MoodObservation] = []
    while not ctx.inbox.empty():
        item = ctx.inbox.get_nowait()
        if isinstance(item, MoodObservation):
            got.append(item)
        stage.handle(item, ctx.clock.t)
    return got


def _stage(model: EmotionModel | None, ctx: RecordingContext, **kw: object) -> MoodStage:
    stage = MoodStage(model, period_s=60.0, threaded=False, **kw)  # type: ignore[arg-type]
    stage.start(ctx)
    return stage


def test_each_utterance_with_words_becomes_a_posted_observation(
    model: EmotionModel, ctx: RecordingContext
) -> None:
    stage = _stage(model, ctx)
    stage.handle(_heard("아이고 허리야 너무 아파"), 1.0)
    (obs,) = _deliver(stage, ctx)
    assert obs.label == "pain"
    assert obs.valence < 0
    assert obs.arousal is not None
    assert -1.0 <= obs.arousal <= 1.0
    assert obs.prosody is not None
    assert obs.prosody.pitch_hz == pytest.approx(160.0, rel=0.03)
    assert obs.heard_at_s == 1.0


def test_an_observation_carries_no_words() -> None:
    assert "text" not in {f.name for f in fields(MoodObservation)}


def test_without_audio_there_is_no_arousal(model: EmotionModel, ctx: RecordingContext) -> None:
    stage = _stage(model, ctx)
    stage.handle(_heard("what time is it", audio=False), 1.0)
    (obs,) = _deliver(stage, ctx)
    assert obs.label == "neutral"
    assert obs.arousal is None


def test_words_only_config_skips_the_voice(model: EmotionModel, ctx: RecordingContext) -> None:
    stage = _stage(model, ctx, use_voice=False)
    stage.handle(_heard("너무 외로워"), 1.0)
    (obs,) = _deliver(stage, ctx)
    assert obs.arousal is None
    assert obs.prosody is None


def test_utterances_without_words_are_ignored(model: EmotionModel, ctx: RecordingContext) -> None:
    stage = _stage(model, ctx)
    stage.handle(_heard("   "), 1.0)
    assert ctx.inbox.empty()


def test_a_mood_event_summarises_the_period_with_the_model(
    model: EmotionModel, ctx: RecordingContext
) -> None:
    stage = _stage(model, ctx)
    for text in ("아이고 허리야 너무 아파", "무릎이 쑤셔서 못 걷겠어", "손주가 와서 너무 좋다"):
        stage.handle(_heard(text), ctx.clock.t)
    _deliver(stage, ctx)
    ctx.clock.t = 59.0
    stage.tick(59.0)
    assert ctx.events(EventType.MOOD) == []
    ctx.clock.t = 60.0
    stage.tick(60.0)
    ((payload, ref),) = ctx.events(EventType.MOOD)
    assert isinstance(payload, MoodPayload)
    assert payload.utterances == 3
    assert payload.shares["pain"] == pytest.approx(2 / 3, abs=1e-3)
    assert payload.shares["happy"] == pytest.approx(1 / 3, abs=1e-3)
    assert sum(payload.shares.values()) == pytest.approx(1.0, abs=1e-3)
    assert payload.valence < 0
    assert payload.period_start == NOW
    assert payload.period_end == NOW + timedelta(seconds=60)
    assert ref is not None
    assert (ref.name, ref.version) == (model.ref.name, model.ref.version)
    ctx.clock.t = 120.0
    stage.tick(120.0)
    assert len(ctx.events(EventType.MOOD)) == 1  # nobody spoke in the second period


def test_no_event_leaves_with_the_words(model: EmotionModel, ctx: RecordingContext) -> None:
    stage = _stage(model, ctx)
    said = ["우리 영감 보고 싶다", "I'm worried about the rent money"]
    for text in said:
        stage.handle(_heard(text), 0.0)
    _deliver(stage, ctx)
    ctx.clock.t = 60.0
    stage.tick(60.0)
    assert ctx.emitted
    for event_type, payload, ref in ctx.emitted:
        wire = make_envelope(
            "robot-test-01", 1, payload, event_type=event_type, ts=NOW, model=ref
        ).model_dump_json()
        assert not any("가" <= ch <= "힣" for ch in wire)  # no Korean word, however short
        for word in said[1].split():
            if len(word) > 2:
                assert word not in wire


def test_calls_for_help_count_but_do_not_teach_the_voice_baseline(
    model: EmotionModel, ctx: RecordingContext
) -> None:
    stage = _stage(model, ctx)
    before = stage.arousal.baseline()
    stage.handle(_heard("살려 주세요 도와주세요", safety=True), 0.0)
    (obs,) = _deliver(stage, ctx)
    assert obs.safety
    assert obs.arousal is not None
    assert stage.arousal.baseline() == before
    stage.handle(_heard("오늘 점심은 국수 먹었어"), 1.0)
    _deliver(stage, ctx)
    assert stage.arousal.baseline() != before


def test_the_worker_thread_posts_the_observation(
    model: EmotionModel, ctx: RecordingContext
) -> None:
    stage = MoodStage(model, period_s=60.0)  # threaded, as on the robot
    stage.start(ctx)
    try:
        stage.handle(_heard("혼자 밥 먹으니까 쓸쓸해"), 0.0)
        obs = ctx.inbox.get(timeout=60)
    finally:
        stage.stop()
    assert isinstance(obs, MoodObservation)
    assert obs.label == "sad_lonely"


def test_summaries_have_every_class_and_clip_to_the_payload_ranges() -> None:
    obs = [
        MoodObservation(0, 1, 0, "angry", {}, -1.0, 1.0, False),
        MoodObservation(0, 1, 0, "angry", {}, -1.0, None, False),
    ]
    payload = summarize(obs, NOW, NOW + timedelta(minutes=30))
    assert payload is not None
    assert payload.shares["angry"] == 1.0
    assert payload.shares["happy"] == 0.0
    assert (payload.valence, payload.arousal, payload.utterances) == (-1.0, 1.0, 2)
    assert summarize([], NOW, NOW) is None


def _config(tmp_path: Path, models_dir: Path, **perception: object) -> DeviceConfig:
    return DeviceConfig(
        device_id="robot-test-01",
        data_dir=tmp_path / "data",
        perception=PerceptionConfig(models_dir=str(models_dir), **perception),  # type: ignore[arg-type]
    )


def test_from_config_loads_the_model_and_its_self_test_passes(
    tmp_path: Path, emotion_dir: Path, ctx: RecordingContext
) -> None:
    stage = MoodStage.from_config(_config(tmp_path, emotion_dir, mood_period_s=300.0))
    assert stage.period_s == 300.0
    stage.start(ctx)
    (test,) = stage.self_tests()
    assert test.ok
    assert "emotion" in test.detail
    assert ctx.events(EventType.DEVICE_FAULT) == []
    stage.stop()


@pytest.mark.parametrize("damage", ["missing", "corrupt"])
def test_a_missing_or_corrupt_model_is_a_device_fault_not_a_crash(
    tmp_path: Path, emotion_dir: Path, ctx: RecordingContext, damage: str
) -> None:
    onnx = next(emotion_dir.glob("emotion-*.onnx"))
    if damage == "missing":
        onnx.unlink()
    else:
        data = bytearray(onnx.read_bytes())
        data[len(data) // 2] ^= 0xFF
        onnx.write_bytes(bytes(data))
    stage = MoodStage.from_config(_config(tmp_path, emotion_dir))
    stage.start(ctx)
    ((fault, _),) = ctx.events(EventType.DEVICE_FAULT)
    assert fault.component == "emotion_model"  # type: ignore[attr-defined]
    (test,) = stage.self_tests()
    assert not test.ok
    assert test.detail
    stage.handle(_heard("아이고 허리야"), 0.0)
    assert ctx.inbox.empty()
    ctx.clock.t = 4000.0
    stage.tick(4000.0)
    assert ctx.events(EventType.MOOD) == []
    stage.stop()


def test_a_swapped_in_model_gets_the_next_utterances_and_ends_the_period(
    model: EmotionModel, ctx: RecordingContext
) -> None:
    stage = _stage(None, ctx)
    stage.handle(_heard("아이고 허리야"), 0.0)
    assert ctx.inbox.empty()
    stage.handle(EmotionModelSwap(model), 1.0)
    (test,) = stage.self_tests()
    assert test.ok
    stage.handle(_heard("아이고 허리야"), 2.0)
    assert len(_deliver(stage, ctx)) == 1


def test_a_rollout_of_another_model_is_not_the_mood_stages(
    tmp_path: Path, emotion_dir: Path
) -> None:
    stage = MoodStage.from_config(_config(tmp_path, emotion_dir))
    command = Command(
        command_id="c1",
        device_id="robot-test-01",
        ts=NOW,
        type=CommandType.MODEL_ROLLOUT,
        payload={"name": "activity"},
    )
    assert stage.on_command(command) is None


def test_a_rollout_without_a_cloud_fails_cleanly_and_keeps_the_model(
    tmp_path: Path, emotion_dir: Path, ctx: RecordingContext
) -> None:
    stage = MoodStage.from_config(_config(tmp_path, emotion_dir))
    stage.start(ctx)
    payload = {
        "name": "emotion",
        "version": "1.1.0",
        "sha256": "a" * 64,
        "sidecar_sha256": "b" * 64,
        "size_bytes": 5000,
        "chunk_bytes": 4096,
        "chunks": 2,
        "token": "t" * 32,
    }
    command = Command(
        command_id="c2",
        device_id="robot-test-01",
        ts=NOW,
        type=CommandType.MODEL_ROLLOUT,
        payload=payload,
    )
    result = stage.on_command(command)
    assert result is not None
    assert not result.ok
    assert result.detail
    assert stage.self_tests()[0].ok
    stage.stop()


def test_the_robot_composes_the_mood_stage_only_when_perception_is_on(
    tmp_path: Path, emotion_dir: Path
) -> None:
    on = default_stages(_config(tmp_path, emotion_dir))
    off = default_stages(_config(tmp_path, emotion_dir, enabled=False))
    assert any(isinstance(s, MoodStage) for s in on)
    assert not any(isinstance(s, MoodStage) for s in off)
    for stage in on:
        stage.stop()


def test_a_mood_event_payload_round_trips_as_json(
    model: EmotionModel, ctx: RecordingContext
) -> None:
    stage = _stage(model, ctx)
    stage.handle(_heard("오늘은 기분이 좋네"), 0.0)
    _deliver(stage, ctx)
    stage.flush(10.0)
    ((payload, _),) = ctx.events(EventType.MOOD)
    raw = json.loads(payload.model_dump_json())
    assert set(raw) == {"period_start", "period_end", "shares", "valence", "arousal", "utterances"}


def test_what_was_learnt_of_the_voice_survives_a_restart(
    model: EmotionModel, ctx: RecordingContext, tmp_path: Path
) -> None:
    path = tmp_path / "mood" / "voice_baseline.json"
    stage = MoodStage(model, period_s=60.0, threaded=False, baseline_path=path)
    stage.start(ctx)
    for _ in range(3):
        stage.handle(_heard("오늘 점심은 국수 먹었어"), 0.0)
    _deliver(stage, ctx)
    stage.stop()
    learnt = stage.arousal.baseline()
    assert learnt != MoodStage(model, threaded=False).arousal.baseline()
    again = MoodStage(model, threaded=False, baseline_path=path)
    assert again.arousal.baseline() == learnt


@pytest.mark.parametrize("content", ["not json", '{"format": 1, "seen": 3, "mean": {}}', "[]"])
def test_a_damaged_voice_baseline_starts_afresh(
    model: EmotionModel, tmp_path: Path, content: str
) -> None:
    path = tmp_path / "voice_baseline.json"
    path.write_text(content, encoding="utf-8")
    stage = MoodStage(model, threaded=False, baseline_path=path)
    assert stage.arousal.baseline() == MoodStage(model, threaded=False).arousal.baseline()
