"""Ingest: validate and store robot events idempotently, then hand them to the alert engine."""

from cloud.ingest.batch import processing_order, store_batch
from cloud.ingest.handler import (
    IngestOutcome,
    Outcome,
    ParsedMessage,
    dead_letter,
    ingest_message,
    parse_message,
    store_message,
)
from cloud.ingest.inbox import Inbox, Received
from cloud.ingest.worker import CommandPublisher, IngestWorker, events_subscription

__all__ = [
    "CommandPublisher",
    "Inbox",
    "IngestOutcome",
    "IngestWorker",
    "Outcome",
    "ParsedMessage",
    "Received",
    "dead_letter",
    "events_subscription",
    "ingest_message",
    "parse_message",
    "processing_order",
    "store_batch",
    "store_message",
]
