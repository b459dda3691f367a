"""The ingest tests run on two MQTT 5 brokers: the machine's Mosquitto and rumqttd (issue 16).

rumqttd (Rust, compiled into the `iotcore` wheel) is a second, independent MQTT 5 implementation
with `$share` subscriptions, persistent sessions, QoS 1, retained messages and wills. Where it
differs from Mosquitto, the test is not run on it and the reason below says how; the two
differences the cloud depends on are checked directly by tests/cloud/ingest/test_broker_contract.py.
"""

from collections.abc import Iterator

import pytest

from tests.helpers.rumqttd import private_rumqttd

_PANIC = (
    "rumqttd 0.20 bug: its router panics when a persistent `$share` subscriber disconnects "
    "holding an unacknowledged message, and then serves no one (test_broker_contract.py)"
)
# Tests that cannot pass on rumqttd, and why (never the cloud's behaviour on Mosquitto).
RUMQTTD_DIFFERS: dict[str, str] = {
    "test_mqtt_311_plain_subscription_stores_events": (
        "rumqttd serves MQTT 3.1.1 on a listener of its own; this fixture's listener is MQTT 5 "
        "(the 3.1.1 plain path is the demo's, on amqtt)"
    ),
    "test_buffered_reads_keep_every_packet_whole_and_acks_in_one_write_settle_them": (
        "rumqttd sends at most 100 unacknowledged messages whatever the client's Receive "
        "Maximum (allowed by MQTT 5); this test holds 400 unacknowledged"
    ),
    "test_a_message_left_unacknowledged_is_redelivered": (
        "rumqttd takes PUBACKs in order only (MQTT-4.6.0-2): an out-of-order ack settles the "
        "oldest message in flight instead (test_broker_contract.py)"
    ),
    "test_kill_9_mid_stream_and_a_restart_loses_nothing": _PANIC,
    # Kills its worker with -9 too, racing the last acks: it passes on rumqttd only when they won.
    "test_poison_then_good_events_and_no_redelivery_after_a_restart": _PANIC,
    "test_a_crash_before_commit_leaves_the_message_unacknowledged_and_redelivered": _PANIC,
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Skip, with its reason, each test in RUMQTTD_DIFFERS on rumqttd only."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is None or callspec.params.get("mqtt_broker") != "rumqttd":
            continue
        reason = RUMQTTD_DIFFERS.get(getattr(item, "originalname", item.name))
        if reason is not None:
            item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture(params=["mosquitto", "rumqttd"])
def mqtt_broker(
    request: pytest.FixtureRequest, mqtt_broker: tuple[str, int]
) -> Iterator[tuple[str, int]]:
    """(host, port) of the broker under test: the machine's Mosquitto (the `mqtt_broker` of
    tests/conftest.py, which this one overrides), then a fresh rumqttd for the test."""
    if request.param == "mosquitto":
        yield mqtt_broker
        return
    with private_rumqttd() as port:  # one per test: a test that breaks it breaks no other
        yield "127.0.0.1", port
