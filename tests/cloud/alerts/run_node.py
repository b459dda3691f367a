"""One cloud node's alert half in its own process: escalation scheduler and webhook dispatcher.

Usage: python -m tests.cloud.alerts.run_node DATABASE_URL LEASE_S
Wall clock, 50 ms polls, no sweep. Prints "ready" once both threads run, then waits to be killed.
"""

import logging
import sys
import threading

from cloud.alerts import AlertEngine, EscalationWorker
from cloud.alerts.dispatcher import DispatchPolicy, WebhookDispatcher
from cloud.store import make_engine, make_session_factory


def main() -> None:
    database_url, lease_s = sys.argv[1], float(sys.argv[2])
    logging.basicConfig(level=logging.WARNING)
    sessions = make_session_factory(make_engine(database_url))
    engine = AlertEngine()
    dispatcher = WebhookDispatcher(
        sessions,
        secret=None,
        engine=engine,
        poll_s=0.05,
        policy=DispatchPolicy(timeout_s=lease_s / 2, lease_s=lease_s, backoff_s=0.05),
    )
    scheduler = EscalationWorker(
        sessions, engine, poll_s=0.05, sweep_s=None, on_deliveries=dispatcher.wake
    )
    dispatcher.start()
    scheduler.start()
    print("ready", flush=True)
    threading.Event().wait()  # until killed


if __name__ == "__main__":
    main()
