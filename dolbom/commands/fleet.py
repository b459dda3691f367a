"""`dolbom sim fleet`: N simulated robots against a broker (and the cloud's API), measured."""

import json
import logging
import secrets
import sys
from enum import StrEnum
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from dolbom.bilingual import error_line, error_of
from firmware_sim.fleet import (
    DEFAULT_BROKER,
    KEPT_UP_LAG_S,
    FleetConfig,
    FleetError,
    FleetReport,
    FleetSimulator,
    parse_broker_url,
)


class MqttProtocol(StrEnum):
    """The MQTT version the robots speak."""

    V5 = "5"
    V311 = "3.1.1"


def fleet(
    devices: int = typer.Option(100, "--devices", "-n", help="How many robots to simulate."),
    rate: float = typer.Option(
        0.1, "--rate", help="Events per robot per second (0.1 = one every 10 s)."
    ),
    duration: float = typer.Option(60.0, "--duration", help="Seconds of reporting."),
    broker: str = typer.Option(
        DEFAULT_BROKER, "--broker", help="mqtt://host:port on this machine (127.0.0.1, ::1)."
    ),
    api: str | None = typer.Option(
        None, "--api", help="The cloud's API URL: also report what it stored and alerted."
    ),
    token: str | None = typer.Option(
        None,
        "--token",
        envvar="DOLBOM_API_TOKEN",
        help="Admin or service token for --api (better: set DOLBOM_API_TOKEN).",
        show_default=False,
    ),
    offline_share: float = typer.Option(
        0.05,
        "--offline-share",
        help="Share of robots that lose the network at 20 % of the run, queue their events"
        " and come back at 60 % to drain them in order.",
    ),
    storm_share: float = typer.Option(
        0.1,
        "--storm-share",
        help="Share of robots that drop at once at 40 % of the run and reconnect at once.",
    ),
    seed: int = typer.Option(0, "--seed", help="Same seed, same plan (mix, phases, drops)."),
    prefix: str | None = typer.Option(
        None,
        "--prefix",
        help="Device ids are PREFIX-000000...; default fleet-<random>. Reuse a prefix only"
        " against a fresh store: the cloud ignores a (device, seq) it already has.",
    ),
    mqtt_protocol: MqttProtocol = typer.Option(
        MqttProtocol.V5, "--mqtt-protocol", help="5, or 3.1.1 (the embedded amqtt broker)."
    ),
    max_inflight: int = typer.Option(16, "--max-inflight", help="Unacknowledged events/robot."),
    drain_timeout: float = typer.Option(
        30.0, "--drain-timeout", help="Seconds to wait for the last acknowledgements."
    ),
    settle: float = typer.Option(
        60.0, "--settle", help="With --api: seconds to wait for the cloud to store everything."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON on stdout."),
) -> None:
    """Simulate a fleet of robots at the protocol level and report delivery and latency."""
    err = Console(stderr=True, highlight=False)
    try:
        config = FleetConfig(
            devices=devices,
            rate_hz=rate,
            duration_s=duration,
            broker=parse_broker_url(broker),
            prefix=prefix or f"fleet-{secrets.token_hex(3)}",
            seed=seed,
            mqtt_protocol="5" if mqtt_protocol is MqttProtocol.V5 else "3.1.1",
            offline_share=offline_share,
            storm_share=storm_share,
            max_inflight=max_inflight,
            drain_timeout_s=drain_timeout,
        )
    except FleetError as e:
        err.print(
            error_of(e, "가상 로봇 무리를 돌리지 못했습니다"),
            style="red",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(2) from None
    observer = None
    if api is not None:
        if not token:
            err.print(
                error_line(
                    "--api에는 --token이나 DOLBOM_API_TOKEN(관리자 토큰)이 필요합니다",
                    "--api needs --token or DOLBOM_API_TOKEN (an admin token)",
                ),
                style="red",
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(2)
        from firmware_sim.fleet.observer import CloudObserver

        try:
            observer = CloudObserver(api, token, f"{config.prefix}-senior", settle_s=settle)
        except FleetError as e:
            err.print(
                error_of(e, "가상 로봇 무리를 돌리지 못했습니다"),
                style="red",
                markup=False,
                soft_wrap=True,
            )
            raise typer.Exit(2) from None

    def progress(message: str) -> None:
        err.print(f"[dim]fleet:[/] {message}")

    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.WARNING)
    progress(
        f"{config.devices} robots ({config.prefix}-…) → {config.broker.url}, MQTT"
        f" {config.mqtt_protocol}, {config.rate_hz:g} events/s each for {config.duration_s:g} s"
    )
    try:
        report = FleetSimulator(config, progress=progress, observer=observer).run()
    except FleetError as e:
        err.print(
            error_of(e, "가상 로봇 무리를 돌리지 못했습니다"),
            style="red",
            markup=False,
            soft_wrap=True,
        )
        raise typer.Exit(1) from None
    except KeyboardInterrupt:
        err.print("interrupted")
        raise typer.Exit(130) from None
    if as_json:
        sys.stdout.write(json.dumps(report.to_dict(), indent=2) + "\n")
    else:
        Console(highlight=False).print(table(report))
    if not report.all_acked or (report.api is not None and report.api.stored < report.acked):
        raise typer.Exit(1)


def _ms(summary: dict[str, Any], key: str) -> str:
    value = summary.get(key)
    return "–" if value is None else f"{value * 1000:.1f}"


def _lat(summary: dict[str, Any]) -> str:
    return " / ".join(_ms(summary, k) for k in ("p50", "p95", "p99", "max"))


def table(r: FleetReport) -> Table:
    """The report as a two-column table."""
    t = Table(title=f"fleet {r.prefix}: {r.devices} robots, {r.rate_hz:g} events/s each")
    t.add_column("metric")
    t.add_column("value", justify="right")
    t.add_row("broker / MQTT", f"{r.broker} / {r.mqtt_protocol}")
    t.add_row("connected at start / connect time", f"{r.connected_at_start} / {r.connect_s:.1f} s")
    t.add_row(
        "events created / acknowledged / unacknowledged",
        f"{r.created} / {r.acked} / {r.unacked}" + ("" if r.all_acked else " [red]✗[/]"),
    )
    t.add_row("publishes / re-sent after reconnect", f"{r.published} / {r.resent}")
    t.add_row(
        "rate target / achieved (msg/s)", f"{r.target_rate_msg_s:g} / {r.achieved_rate_msg_s:g}"
    )
    t.add_row("publish → PUBACK ms p50/p95/p99/max", _lat(r.ack_latency_s))
    t.add_row(
        f"schedule lag ms p50/p95/p99/max (kept up: p99 ≤ {KEPT_UP_LAG_S:g} s)",
        _lat(r.schedule_lag_s) + (" [green]✓[/]" if r.kept_up else " [red]✗[/]"),
    )
    t.add_row("event-loop lag ms p50/p95/p99/max", _lat(r.loop_lag_s))
    t.add_row(
        "offline robots / max backlog / drained in",
        f"{r.offline_devices} / {r.offline_backlog_max} / "
        + ("–" if r.offline_drain_s is None else f"{r.offline_drain_s:.2f} s"),
    )
    t.add_row(
        "storm robots / all back in",
        f"{r.storm_devices} / "
        + ("–" if r.storm_recovery_s is None else f"{r.storm_recovery_s:.2f} s"),
    )
    t.add_row(
        "connects / failed attempts / unexpected drops",
        f"{r.connects} / {r.connect_failures} / {r.unexpected_disconnects}",
    )
    t.add_row("alarm events (emergency, fall, fault)", str(r.alarms))
    t.add_row(
        "CPU during run (cores) / total CPU s", f"{r.run_cpu_share:.2f} / {r.total_cpu_s:.1f}"
    )
    t.add_row("RSS / peak MB", f"{r.rss_mb:.0f} / {r.peak_rss_mb:.0f}")
    if r.api is not None:
        a = r.api
        t.add_row(
            "cloud: stored / expected",
            f"{a.stored} / {a.expected_stored}"
            + (" [green]✓[/]" if a.stored >= a.expected_stored else " [red]✗[/]"),
        )
        t.add_row("cloud: publish → stored ms p50/p95/p99/max", _lat(a.stored_latency_s))
        t.add_row(
            "cloud: alerts / publish → alert ms p50/p95/p99",
            f"{a.alerts} / " + " / ".join(_ms(a.alert_latency_s, k) for k in ("p50", "p95", "p99")),
        )
    t.add_row("events by type", ", ".join(f"{k} {v}" for k, v in r.by_type.items()))
    return t
