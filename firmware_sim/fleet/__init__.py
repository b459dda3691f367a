"""The fleet simulator: N lightweight robots at the protocol level (no audio, no ASR)."""

from firmware_sim.fleet.config import (
    DEFAULT_BROKER,
    BrokerAddress,
    FleetConfig,
    FleetError,
    parse_broker_url,
)
from firmware_sim.fleet.mix import DEFAULT_MIX, EventMix
from firmware_sim.fleet.report import ApiReport, FleetReport
from firmware_sim.fleet.simulator import KEPT_UP_LAG_S, FleetSimulator

__all__ = [
    "DEFAULT_BROKER",
    "DEFAULT_MIX",
    "KEPT_UP_LAG_S",
    "ApiReport",
    "BrokerAddress",
    "EventMix",
    "FleetConfig",
    "FleetError",
    "FleetReport",
    "FleetSimulator",
    "parse_broker_url",
]
