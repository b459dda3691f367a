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
from cloud.ingest.lease import ClientIdLease, LeaseHeldError
from cloud.ingest.worker import (
    CommandPublisher,
    IngestHealth,
    IngestWorker,
    default_client_id,
    events_subscription,
)

__all__ = [
    "ClientIdLease",
    "CommandPublisher",
    "Inbox",
    "IngestHealth",
    "IngestOutcome",
    "IngestWorker",
    "LeaseHeldError",
    "Outcome",
    "ParsedMessage",
    "Received",
    "dead_letter",
    "default_client_id",
    "events_subscription",
    "ingest_message",
    "parse_message",
    "processing_order",
    "store_batch",
    "store_message",
]
