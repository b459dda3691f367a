"""Issue 16: GET /metrics (Prometheus) counts what ingest and the dispatcher really did.

Process-wide counters, so each test compares the numbers before and after its own work.
"""

from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from cloud.alerts.dispatcher import WebhookDispatcher
from cloud.api import create_app
from cloud.ingest import IngestWorker, Received, parse_message
from cloud.settings import CloudSettings
from cloud.store.models import Delivery
from protocol import events_topic
from tests.cloud.api.conftest import TOKEN, http
from tests.cloud.helpers import NOW, WebhookReceiver, emergency, heartbeat, new_device_id

MALFORMED = b'{"v": 1'


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


async def scrape(
    sessions: sessionmaker[Session],
) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    app = create_app(CloudSettings(api_token=SecretStr(TOKEN)), session_factory=sessions)
    async with http(app) as c:
        r = await c.get("/metrics")  # no token: a probe's endpoint, counts only
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    return samples(r.text)


def stored(kind: str) -> tuple[str, tuple[tuple[str, str], ...]]:
    return ("dolbom_ingest_messages_total", (("outcome", kind),))


async def test_metrics_count_ingest_outcomes_batches_and_alert_latency(
    sessions: sessionmaker[Session],
) -> None:
    before = await scrape(sessions)
    worker = IngestWorker(CloudSettings(webhook_urls=[]), sessions, clock=lambda: NOW)
    dev, sos = new_device_id(), new_device_id()
    batch = [
        Received(parse_message(events_topic(dev), heartbeat(dev, n)), received_s=1.0)
        for n in (1, 2, 3)
    ]
    batch.append(Received(parse_message(events_topic(dev), MALFORMED)))
    batch.append(Received(parse_message(events_topic(sos), emergency(sos, 1)), received_s=1.0))
    worker.handle_batch(batch)
    worker.handle_batch(batch[:1])  # the same heartbeat again
    after = await scrape(sessions)

    def delta(key: tuple[str, tuple[tuple[str, str], ...]]) -> float:
        return after.get(key, 0.0) - before.get(key, 0.0)

    assert delta(stored("stored")) == 4
    assert delta(stored("dead_lettered")) == 1
    assert delta(stored("duplicate")) == 1
    assert delta(("dolbom_ingest_batch_size_count", ())) == 2
    assert delta(("dolbom_ingest_batch_size_sum", ())) == 6
    assert delta(("dolbom_alert_latency_seconds_count", ())) == 1
    assert delta(("dolbom_ingest_store_seconds_count", ())) == 2
    assert after[("dolbom_alerts_open", (("severity", "critical"),))] == 1
    assert after[("dolbom_robots_online", ())] == 2


async def test_metrics_count_notification_outcomes_by_channel(
    sessions: sessionmaker[Session],
) -> None:
    receiver = WebhookReceiver(fail_first=1)
    try:
        worker = IngestWorker(
            CloudSettings(webhook_urls=[receiver.url]), sessions, clock=lambda: NOW
        )
        before = await scrape(sessions)
        sos = new_device_id()
        worker.handle_batch([Received(parse_message(events_topic(sos), emergency(sos, 1)))])
        dispatcher = WebhookDispatcher(sessions, secret=None, jitter=lambda: 0.0)
        try:
            dispatcher.run_once()  # HTTP 500 the first time: a retry
            with sessions() as s, s.begin():
                s.execute(update(Delivery).values(next_attempt_at=NOW))  # due again now
            dispatcher.run_once()
        finally:
            dispatcher.stop()
        after = await scrape(sessions)
    finally:
        receiver.close()
    key = "dolbom_notifications_total"
    retry = (key, (("channel", "webhook"), ("outcome", "retry")))
    delivered = (key, (("channel", "webhook"), ("outcome", "delivered")))
    assert after.get(retry, 0) - before.get(retry, 0) == 1
    assert after.get(delivered, 0) - before.get(delivered, 0) == 1
