"""An ingest worker whose store never answers, for the crash test: run, receive, get killed.

Usage: python -m tests.cloud.ingest.crash_worker HOST PORT CLIENT_ID SHARE_GROUP
Prints "subscribed" once its subscriptions are granted, then "holding <device ids>" each time
the worker tries to store a batch, i.e. holds messages it cannot commit (the store is down).
"""

import sys
import threading
from collections.abc import Callable, Sequence

from cloud.ingest import IngestOutcome, IngestWorker, Received
from cloud.settings import CloudSettings
from cloud.store import make_engine, make_session_factory


def main() -> None:
    host, port, client_id, group = sys.argv[1:5]
    engine = make_engine("postgresql://nobody:nothing@127.0.0.1:1/none")
    settings = CloudSettings(
        mqtt_host=host,
        mqtt_port=int(port),
        mqtt_protocol="5",
        mqtt_share_group=group,
        mqtt_client_id=client_id,
    )
    worker = IngestWorker(settings, make_session_factory(engine))
    original = worker.handle_batch

    def handle_batch(
        batch: Sequence[Received], *, yield_to: Callable[[], bool] | None = None
    ) -> list[IngestOutcome | None]:
        ids = sorted({r.message.device_id or "?" for r in batch})
        print("holding", *ids, flush=True)
        return original(batch, yield_to=yield_to)

    worker.handle_batch = handle_batch  # type: ignore[method-assign]
    if not worker.start(wait_s=10):
        raise SystemExit("could not subscribe")
    print("subscribed", flush=True)
    threading.Event().wait()  # until killed


if __name__ == "__main__":
    main()
