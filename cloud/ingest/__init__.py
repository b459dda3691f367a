"""Ingest: validate and store robot events idempotently, then hand them to the alert engine."""

from cloud.ingest.handler import IngestOutcome, Outcome, dead_letter, ingest_message
from cloud.ingest.worker import CommandPublisher, IngestWorker, events_subscription

__all__ = [
    "CommandPublisher",
    "IngestOutcome",
    "IngestWorker",
    "Outcome",
    "dead_letter",
    "events_subscription",
    "ingest_message",
]
