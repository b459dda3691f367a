"""Issue 17: the robot's config is typed; a wrong value stops it at start with file, key and
reason (Korean and English), never hours later in the stage that reads it."""

from dataclasses import replace
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from device.config import DeviceConfig, DialogConfig, HalConfig, MqttConfig, load_config
from device.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]


def _load(tmp_path: Path, body: str) -> DeviceConfig:
    path = tmp_path / "robot.toml"
    path.write_text(body, encoding="utf-8")
    return load_config(path)


def _error(tmp_path: Path, body: str) -> str:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, body)
    return str(caught.value)


def test_silent_timeout_that_is_not_a_number_is_refused_with_file_key_and_reason(
    tmp_path: Path,
) -> None:
    message = _error(tmp_path, 'device_id = "robot-1"\n[hal]\nsilent_timeout_s = "abc"\n')
    assert str(tmp_path / "robot.toml") in message
    assert "[hal] silent_timeout_s = 'abc'" in message
    assert "숫자여야 합니다" in message
    assert "valid number" in message


def test_port_written_in_words_is_refused(tmp_path: Path) -> None:
    message = _error(tmp_path, 'device_id = "robot-1"\n[mqtt]\nport = "eighty"\n')
    assert "[mqtt] port = 'eighty'" in message
    assert "정수여야 합니다" in message
    assert "valid integer" in message


def test_a_number_in_quotes_is_not_silently_converted(tmp_path: Path) -> None:
    message = _error(tmp_path, 'device_id = "robot-1"\n[safety]\ncountdown_s = "30"\n')
    assert "[safety] countdown_s = '30'" in message


def test_an_integer_is_accepted_where_a_float_is_expected(tmp_path: Path) -> None:
    cfg = _load(tmp_path, 'device_id = "robot-1"\n[safety]\ncountdown_s = 45\n')
    assert cfg.safety.countdown_s == 45.0


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('device_id = "robot-1"\n[mqtt]\nport = 70000\n', "[mqtt] port = 70000"),
        ('device_id = "robot-1"\n[safety]\ncountdown_s = -1\n', "[safety] countdown_s = -1"),
        ('device_id = "robot-1"\n[mqtt]\nprot = 1\n', "[mqtt] prot = 1: 알 수 없는 키입니다"),
        ('device_id = "robot-1"\nlanguage = "fr"\n', "language = 'fr'"),
        ('device_id = "robot-1"\nhal = 3\n', "[hal] = 3"),
        ('device_id = "robot-1"\n[hal]\nenabled = "yes"\n', "[hal] enabled = 'yes'"),
        ('device_id = "robot-1"\n[audio]\nsource = "wav"\n', "needs wav_path"),
        ('device_id = "Bad Id!"\n', "device_id = 'Bad Id!'"),
        ("language = 'ko'\n", "device_id: 꼭 필요한 키입니다"),
        ('device_id = "robot-1"\n[dialog]\nquiet_start = "25:00"\n', "[dialog] quiet_start"),
        ('device_id = "robot-1"\n[dialog]\ntimezone = "Mars/Base"\n', "not a known time zone"),
        (
            'device_id = "robot-1"\n[dialog]\nreminder_repeat_min = [1, 2, 3, 4, 5, 6]\n',
            "[dialog] reminder_repeat_min",
        ),
        ('device_id = "robot-1"\n[dialog]\nrobot_name = "  "\n', "[dialog] robot_name"),
        ('device_id = "robot-1"\nasr_graph = "mmap"\n', "asr_graph = 'mmap'"),
    ],
)
def test_wrong_values_name_their_key(tmp_path: Path, body: str, expected: str) -> None:
    assert expected in _error(tmp_path, body)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    message = _error(
        tmp_path, 'device_id = "robot-1"\n[hal]\nbaudrate = "fast"\n[vad]\nthreshold = 2\n'
    )
    assert "[hal] baudrate" in message
    assert "[vad] threshold" in message
    assert len(message.splitlines()) == 2


def test_a_password_is_never_echoed_in_the_error(tmp_path: Path) -> None:
    message = _error(tmp_path, 'device_id = "robot-1"\n[mqtt]\npassword = 123456789\n')
    assert "123456789" not in message
    assert "[mqtt] password = ***" in message


def test_file_errors_are_bilingual(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="설정 파일이 없습니다 / config file does not exist"):
        load_config(tmp_path / "missing.toml")
    assert "TOML 형식이 아닙니다 / not valid TOML" in _error(tmp_path, "device_id = \n")
    (tmp_path / "robot.toml").write_bytes(b"device_id = '\xff\xfe'\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(tmp_path / "robot.toml")


def test_the_commented_example_config_loads() -> None:
    cfg = load_config(ROOT / "deploy" / "device" / "robot.example.toml")
    assert cfg.mqtt.port == 8883
    assert cfg.hal.enabled


def test_the_pi_config_template_loads() -> None:
    cfg = load_config(ROOT / "deploy" / "pi" / "robot.toml")
    assert cfg.hal.port == "/dev/serial0"
    assert cfg.data_dir == Path("/var/lib/dolbom")


def test_relative_paths_are_relative_to_the_file(tmp_path: Path) -> None:
    cfg = _load(
        tmp_path,
        'device_id = "robot-1"\ndata_dir = "data"\n[audio]\nsource = "wav"\nwav_path = "a.wav"\n',
    )
    assert cfg.data_dir == tmp_path / "data"
    assert cfg.audio.wav_path == str(tmp_path / "a.wav")


def test_a_toml_list_becomes_a_tuple(tmp_path: Path) -> None:
    cfg = _load(tmp_path, 'device_id = "robot-1"\n[dialog]\nreminder_repeat_min = [5, 15]\n')
    assert cfg.dialog.reminder_repeat_min == (5.0, 15.0)


def test_code_that_builds_a_config_is_checked_too() -> None:
    with pytest.raises(ValueError, match="silent_timeout_s"):
        HalConfig(silent_timeout_s="abc")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="port"):
        replace(DeviceConfig(device_id="robot-1"), mqtt=MqttConfig(port=0))


def test_configs_are_frozen() -> None:
    cfg = DialogConfig()
    with pytest.raises(AttributeError):
        cfg.robot_name = "x"  # type: ignore[misc]


@given(st.dictionaries(st.text(max_size=12), st.one_of(st.text(), st.integers(), st.floats())))
def test_arbitrary_tables_never_crash_the_loader(raw: dict[str, object]) -> None:
    from device.config import config_from_dict

    try:
        config_from_dict({"device_id": "robot-1", "hal": raw}, "fuzz.toml")
        message = "fuzz.toml: accepted"
    except ConfigError as e:
        message = str(e)
    assert message.startswith("fuzz.toml: ")
