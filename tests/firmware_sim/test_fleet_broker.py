"""The fleet simulator against real brokers: the system Mosquitto (MQTT 5) and the embedded amqtt.

A small fleet with a share of robots going offline and a reconnect storm; a subscriber checks
what each robot's events and status looked like from the broker's other side.
"""

import uuid
from collections import defaultdict

import pytest

from dolbom.embedded_broker import EmbeddedBroker
from firmware_sim.fleet import BrokerAddress, FleetConfig, FleetReport, FleetSimulator
from protocol import decode_envelope, parse_topic
from protocol.topics import EVENTS_SUBSCRIPTION, STATUS_SUBSCRIPTION
from tests.helpers.mqtt import Recorder

DEVICES = 20


def _config(port: int, protocol: str) -> FleetConfig:
    return FleetConfig(
        devices=DEVICES,
        rate_hz=2.0,
        duration_s=4.0,
        broker=BrokerAddress("127.0.0.1", port),
        prefix=f"t-{uuid.uuid4().hex[:8]}",  # parallel users of the shared broker never collide
        seed=11,
        mqtt_protocol=protocol,  # type: ignore[arg-type]
        offline_share=0.2,
        storm_share=0.2,
        drain_timeout_s=20.0,
    )


def _ours(rec: Recorder, prefix: str, kind: str) -> dict[str, list[bytes]]:
    """Payloads per device id of this fleet, in arrival order, on `kind` topics."""
    out: dict[str, list[bytes]] = defaultdict(list)
    for m in rec.snapshot():
        device_id, topic_kind = parse_topic(m.topic)
        if device_id.startswith(prefix + "-") and topic_kind.value == kind and m.payload:
            out[device_id].append(m.payload)
    return out


def _run(port: int, protocol: str) -> tuple[FleetSimulator, FleetReport, Recorder]:
    config = _config(port, protocol)
    rec = Recorder(port, [EVENTS_SUBSCRIPTION, STATUS_SUBSCRIPTION], protocol=protocol)  # type: ignore[arg-type]
    rec.start()
    try:
        sim = FleetSimulator(config)
        report = sim.run()
        last = {d.device_id: d.seq for d in sim.devices}

        def all_seen(_: object) -> bool:
            seen = _ours(rec, config.prefix, "events")
            return all(
                last[d] in {decode_envelope(p).seq for p in seen.get(d, [])} for d in last
            ) and all(
                s and s[-1] == b"offline" for s in _ours(rec, config.prefix, "status").values()
            )

        rec.wait_for(all_seen, 20)
    except BaseException:
        rec.stop()
        raise
    return sim, report, rec


def _check(sim: FleetSimulator, report: FleetReport, rec: Recorder) -> None:
    prefix = sim.config.prefix
    assert report.all_acked
    assert report.created == report.acked == sum(d.seq for d in sim.devices)
    assert report.unacked == report.refused == 0
    events = _ours(rec, prefix, "events")
    statuses = _ours(rec, prefix, "status")
    assert len(sim.devices) == DEVICES
    for d in sim.devices:
        seqs = [decode_envelope(p).seq for p in events[d.device_id]]
        first_seen = list(dict.fromkeys(seqs))
        # Every event arrived, none skipped, first arrivals in seq order: no gaps, monotonic.
        assert first_seen == list(range(1, d.seq + 1)), d.device_id
        if d.connections == 1:
            assert len(seqs) == len(first_seen), f"{d.device_id} got duplicates on one session"
        dropped = d.offline_planned or d.storm_planned
        # online, the broker's last will while away, online again, the graceful offline.
        expected = [b"online", b"offline"] * (2 if dropped else 1)
        assert statuses[d.device_id] == expected, d.device_id
    offline = [d for d in sim.devices if d.offline_planned]
    assert len(offline) == 4
    assert all(d.backlog_on_return > 0 for d in offline)
    assert report.offline_drain_s is not None
    assert report.storm_recovery_s is not None


def _clear_retained(sim: FleetSimulator, rec: Recorder) -> None:
    for d in sim.devices:
        rec.publish(d.status_topic, b"", retain=True)


@pytest.mark.mosquitto
def test_fleet_on_mosquitto_delivers_every_event_in_order_with_wills(
    mqtt_broker: tuple[str, int],
) -> None:
    sim, report, rec = _run(mqtt_broker[1], "5")
    try:
        _check(sim, report, rec)
    finally:
        _clear_retained(sim, rec)
        rec.stop()


def test_fleet_on_embedded_amqtt_delivers_every_event_in_order_with_wills() -> None:
    with EmbeddedBroker() as broker:
        sim, report, rec = _run(broker.port, "3.1.1")
        try:
            _check(sim, report, rec)
        finally:
            rec.stop()


def test_fleet_with_no_broker_fails_with_a_clear_error() -> None:
    from firmware_sim.fleet import FleetError
    from tests.helpers.ports import free_port

    config = FleetConfig(
        devices=3,
        duration_s=1.0,
        broker=BrokerAddress("127.0.0.1", free_port()),
        prefix="nobroker",
        connect_timeout_s=1.0,
    )
    with pytest.raises(FleetError, match="no device could connect"):
        FleetSimulator(config).run()
