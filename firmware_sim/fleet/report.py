"""What a fleet run measured, as plain data (the CLI renders it as a table or JSON)."""

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class ApiReport:
    """What the cloud's caregiver API shows of the fleet after the run."""

    api_url: str
    senior_id: str
    expected_stored: int  # events the broker acknowledged (each once)
    stored: int  # events the API lists for the fleet's senior
    stored_waited_s: float
    alerts: int  # alerts the API lists for the fleet's senior
    stored_latency_s: dict[str, Any]  # first publish → the cloud's received_at
    alert_latency_s: dict[str, Any]  # first publish of the triggering event → alert created_at
    sampled_events: int  # events whose latency was read (the API pages them)


@dataclass(frozen=True)
class FleetReport:
    """One run: what was sent, acknowledged, how fast, and what it cost this process."""

    devices: int
    rate_hz: float
    duration_s: float
    broker: str
    mqtt_protocol: str
    prefix: str
    seed: int
    connected_at_start: int
    connect_s: float
    connects: int
    connect_failures: int
    unexpected_disconnects: int
    created: int  # events the robots produced (each seq once)
    published: int  # PUBLISH packets sent, re-sends included
    resent: int
    acked: int  # events acknowledged by the broker (each seq once)
    refused: int  # events the broker answered with a failure reason code
    unacked: int  # still in an outbox at the end
    alarms: int  # events the cloud should raise an alert for
    by_type: dict[str, int]
    target_rate_msg_s: float
    achieved_rate_msg_s: float
    ack_latency_s: dict[str, Any]  # publish → PUBACK
    schedule_lag_s: dict[str, Any]  # due → created: did the simulator keep its schedule?
    loop_lag_s: dict[str, Any]  # how late the event loop woke a 250 ms timer
    kept_up: bool
    run_cpu_s: float
    run_cpu_share: float  # CPU seconds per wall second during the run (1.0 = one core)
    total_cpu_s: float
    rss_mb: float
    peak_rss_mb: float
    fd_limit: int
    offline_devices: int
    offline_backlog_max: int
    offline_drain_s: float | None  # return → every backlog acknowledged
    storm_devices: int
    storm_recovery_s: float | None  # reconnect start → every storm device connected
    drain_s: float
    all_acked: bool
    api: ApiReport | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return asdict(self)
