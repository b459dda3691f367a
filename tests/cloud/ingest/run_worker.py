"""An ingest worker in its own process with the default persistent session, to be killed.

Usage: python -m tests.cloud.ingest.run_worker DATABASE_URL HOST PORT WORKER_ID SHARE_GROUP
Prints "subscribed <client id>" once its subscriptions are granted, then waits to be killed.
"""

import logging
import sys
import threading

from cloud.ingest import IngestWorker
from cloud.settings import CloudSettings
from cloud.store import make_engine, make_session_factory


def main() -> None:
    database_url, host, port, worker_id, group = sys.argv[1:6]
    logging.basicConfig(level=logging.WARNING)
    settings = CloudSettings(
        database_url=database_url,
        mqtt_host=host,
        mqtt_port=int(port),
        mqtt_protocol="5",
        mqtt_share_group=group,
        mqtt_session="persistent",  # the production default (the test suite's env says clean)
        worker_id=worker_id,
    )
    worker = IngestWorker(settings, make_session_factory(make_engine(database_url)))
    if not worker.start(wait_s=10):
        raise SystemExit("could not subscribe")
    print("subscribed", worker.client_id, flush=True)
    threading.Event().wait()  # until killed


if __name__ == "__main__":
    main()
