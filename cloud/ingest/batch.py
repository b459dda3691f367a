"""Store a batch of messages in the caller's transaction, the most urgent devices first."""

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from cloud.alerts.service import AlertEngine
from cloud.ingest.handler import IngestOutcome, ParsedMessage, store_message


def processing_order(messages: Sequence[ParsedMessage]) -> list[int]:
    """Indices in storing order: devices by their most urgent message, then by arrival.

    A device's own messages keep their arrival order, because one event can cancel or clear
    what an earlier one of the same device raised ("I'm fine" after a fall, a touch after
    inactivity); only messages of different devices overtake each other.
    """
    groups: dict[str | None, tuple[int, int]] = {}
    for i, message in enumerate(messages):
        rank = message.priority.rank
        best = groups.get(message.device_id)
        groups[message.device_id] = (rank, i) if best is None else (min(best[0], rank), best[1])
    return sorted(range(len(messages)), key=lambda i: (*groups[messages[i].device_id], i))


def store_batch(
    session: Session,
    messages: Sequence[ParsedMessage],
    now: datetime,
    *,
    alerts: AlertEngine | None = None,
    yield_to: Callable[[], bool] | None = None,
) -> list[tuple[int, IngestOutcome]]:
    """Store messages inside the caller's transaction; (index, outcome) in storing order.

    Stops before the next message as soon as `yield_to()` is true (a critical message
    waits): the caller commits what was stored and comes back for the rest.
    """
    engine = alerts or AlertEngine()
    stored: list[tuple[int, IngestOutcome]] = []
    for i in processing_order(messages):
        if yield_to is not None and yield_to():
            break
        stored.append((i, store_message(session, messages[i], now, alerts=engine)))
    return stored
