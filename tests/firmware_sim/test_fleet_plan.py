"""The fleet simulator's pure parts: the event mix, the plan and the run's settings."""

import random
from collections import Counter
from datetime import UTC, datetime

import pytest

from firmware_sim.fleet import (
    DEFAULT_MIX,
    BrokerAddress,
    EventMix,
    FleetConfig,
    FleetError,
    FleetSimulator,
    parse_broker_url,
)
from firmware_sim.fleet.mix import ALARM_TYPES
from protocol import EventType, decode_envelope, events_topic

NOW = datetime(2026, 11, 27, 9, 30, tzinfo=UTC)


def _events(n: int, seed: int = 7) -> list[tuple[EventType, bool, bytes]]:
    mix = EventMix()
    rng = random.Random(seed)
    state = mix.new_state(rng, NOW)
    out = []
    for seq in range(1, n + 1):
        e = mix.next_event("fleet-000001", seq, state, rng, NOW)
        out.append((e.type, e.alarm, e.raw))
    return out


def test_every_mixed_event_is_a_valid_envelope_on_its_own_topic() -> None:
    for seq, (etype, _, raw) in enumerate(_events(3000), start=1):
        env = decode_envelope(raw, events_topic("fleet-000001"))
        assert (env.seq, env.type) == (seq, etype)


def test_mix_is_mostly_heartbeats_and_every_type_shows_up() -> None:
    counts = Counter(t for t, _, _ in _events(20000))
    assert counts[EventType.HEARTBEAT] / 20000 == pytest.approx(0.55, abs=0.02)
    assert set(counts) == set(DEFAULT_MIX)
    assert counts[EventType.EMERGENCY] < counts[EventType.BATTERY] < counts[EventType.MOOD]


def test_only_emergencies_falls_and_faults_are_alarms_and_a_cancelled_fall_is_not() -> None:
    for etype, alarm, raw in _events(20000):
        if alarm:
            assert etype in ALARM_TYPES
        if etype is EventType.FALL:
            cancelled = decode_envelope(raw).payload["countdown"] == "cancelled"
            assert alarm is not cancelled
        elif etype in ALARM_TYPES:
            assert alarm


def test_same_seed_gives_the_same_events() -> None:
    assert _events(500, seed=3) == _events(500, seed=3)
    assert _events(500, seed=3) != _events(500, seed=4)


def test_plan_draws_disjoint_offline_and_storm_shares_from_the_seed() -> None:
    config = FleetConfig(devices=200, offline_share=0.1, storm_share=0.25, seed=5, prefix="plan")
    a, b = FleetSimulator(config), FleetSimulator(config)
    offline = {d.index for d in a.devices if d.offline_planned}
    storm = {d.index for d in a.devices if d.storm_planned}
    assert (len(offline), len(storm)) == (20, 50)
    assert not offline & storm
    assert offline == {d.index for d in b.devices if d.offline_planned}
    assert [d.phase_s for d in a.devices] == [d.phase_s for d in b.devices]
    assert all(0 <= d.phase_s < config.period_s for d in a.devices)


def test_device_ids_are_valid_unique_and_sorted() -> None:
    config = FleetConfig(devices=1500, prefix="ids")
    ids = [config.device_id(i) for i in range(config.devices)]
    assert ids[0] == "ids-000000"
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)
    for i in ids:
        events_topic(i)  # raises on an id the contract refuses


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mqtt://127.0.0.1:1883", BrokerAddress("127.0.0.1", 1883)),
        ("mqtt://localhost", BrokerAddress("127.0.0.1", 1883)),
        ("127.0.0.2:2000", BrokerAddress("127.0.0.2", 2000)),
        ("mqtt://[::1]:1884", BrokerAddress("::1", 1884)),
    ],
)
def test_broker_url_on_this_machine_is_accepted(url: str, expected: BrokerAddress) -> None:
    assert parse_broker_url(url) == expected


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("mqtt://broker.example.com:1883", "only talks to this machine"),
        ("mqtt://10.0.0.5:1883", "only talks to this machine"),
        ("mqtts://127.0.0.1:8883", "TLS is not simulated"),
        ("http://127.0.0.1:1883", "use mqtt://"),
        ("mqtt://127.0.0.1:99999", "port must be a number"),
    ],
)
def test_broker_url_elsewhere_or_malformed_is_refused(url: str, why: str) -> None:
    with pytest.raises(FleetError, match=why):
        parse_broker_url(url)


@pytest.mark.parametrize(
    ("kwargs", "why"),
    [
        ({"devices": 0}, "--devices"),
        ({"rate_hz": 0}, "--rate"),
        ({"duration_s": -1}, "--duration"),
        ({"prefix": "Fleet!"}, "--prefix"),
        ({"offline_share": 1.5}, "offline-share"),
        ({"offline_at": 0.7, "return_at": 0.6}, "before return_at"),
    ],
)
def test_bad_settings_say_what_to_change(kwargs: dict[str, object], why: str) -> None:
    with pytest.raises(FleetError, match=why):
        FleetConfig(**kwargs)  # type: ignore[arg-type]


def test_a_fleet_larger_than_the_descriptor_limit_is_refused_before_connecting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import firmware_sim.fleet.simulator as simulator

    monkeypatch.setattr(simulator, "raise_fd_limit", lambda needed: 100)
    config = FleetConfig(devices=500, prefix="fds", broker=BrokerAddress("127.0.0.1", 9))
    with pytest.raises(FleetError, match="file descriptors"):
        FleetSimulator(config).run()
