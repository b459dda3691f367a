"""One ingest worker process for benchmarks/ingest.py (the production `IngestWorker`, timed).

Settings come from the DOLBOM_* environment like `dolbom cloud serve`. `--path`:
- `bulk`: the shipped code (routine events in multi-row statements);
- `batched`: one transaction per batch, but every message stored on its own (before issue 16);
- `naive`: one message per transaction (run it with DOLBOM_INGEST_BATCH_MAX=1).
Prints "subscribed" once its subscriptions are granted; on SIGTERM stops (storing what is in
hand) and writes `--out`: batch sizes and, per critical message, the seconds from its receipt
(paho handing it over) to the commit of its alert. `--profile PREFIX` profiles the ingest thread
and paho's network thread (where messages are parsed) with cProfile into PREFIX.{ingest,net}.
"""

import argparse
import cProfile
import functools
import json
import signal
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import psutil

import cloud.ingest.worker as worker_module
from cloud.ingest import IngestOutcome, IngestWorker, Received
from cloud.ingest.batch import store_batch
from cloud.settings import CloudSettings
from cloud.store import make_engine, make_session_factory


class TimedWorker(IngestWorker):
    """Notes batch sizes and the receipt-to-commit time of every critical message stored."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.batch_sizes: list[int] = []
        self.critical_s: list[float] = []
        # per critical message: receipt -> its batch's store began (waiting), store began -> commit
        self.critical_parts: list[tuple[float, float]] = []
        self.profiles: dict[str, cProfile.Profile] = {}

    def handle_batch(
        self, batch: Sequence[Received], *, yield_to: Callable[[], bool] | None = None
    ) -> list[IngestOutcome | None]:
        began = time.monotonic()
        outcomes = super().handle_batch(batch, yield_to=yield_to)
        done = time.monotonic()
        self.batch_sizes.append(sum(o is not None for o in outcomes))
        for received, outcome in zip(batch, outcomes, strict=True):
            if outcome is not None and received.urgent and outcome.alert is not None:
                self.critical_s.append(done - received.received_s)
                self.critical_parts.append((began - received.received_s, done - began))
        return outcomes

    def profile(self) -> None:
        """Profile the ingest thread and, from its first message on, paho's thread."""
        run, on_message = self._run, self._on_message

        def profiled_run() -> None:
            prof = self.profiles.setdefault("ingest", cProfile.Profile())
            prof.enable()
            try:
                run()
            finally:
                prof.disable()

        def profiled_on_message(*args: Any) -> None:
            if "net" not in self.profiles:
                self.profiles["net"] = cProfile.Profile()
                self.profiles["net"].enable()  # this (paho's) thread, from now on
            on_message(*args)

        self._run = profiled_run  # type: ignore[method-assign]
        self._client.on_message = profiled_on_message


def thread_cpu(worker: IngestWorker) -> dict[str, float]:
    """CPU seconds of the ingest thread, paho's network thread and the rest of the process."""
    ids: dict[int | None, str] = {}
    ingest = getattr(worker, "_ingest_thread", None)
    network = getattr(worker._client, "_thread", None)
    for name, thread in (("ingest", ingest), ("network", network)):
        if thread is not None:
            ids[thread.native_id] = name
    for thread in threading.enumerate():
        if thread.native_id not in ids:
            ids[thread.native_id] = "main" if thread is threading.main_thread() else "other"
    out = {"ingest": 0.0, "network": 0.0, "main": 0.0, "other": 0.0}
    for t in psutil.Process().threads():
        out[ids.get(t.id, "other")] += t.user_time + t.system_time
    return {k: round(v, 2) for k, v in out.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--path", choices=["bulk", "batched", "naive"], default="bulk")
    parser.add_argument("--out", required=True)
    parser.add_argument("--profile", default="")
    args = parser.parse_args()
    if args.path != "bulk":
        one_by_one = functools.partial(store_batch, bulk=False)
        setattr(worker_module, "store_batch", one_by_one)  # noqa: B010 (the old path, for comparison)
    settings = CloudSettings()
    worker = TimedWorker(settings, make_session_factory(make_engine(settings.database_url)))
    if args.profile:
        worker.profile()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    if not worker.start(wait_s=20):
        sys.exit("could not subscribe")
    print("subscribed", worker.client_id, flush=True)
    stop.wait()
    threads = thread_cpu(worker)
    worker.stop()
    for name, prof in worker.profiles.items():
        prof.disable()
        prof.dump_stats(f"{args.profile}.{name}")
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump(
            {
                "batch_sizes": worker.batch_sizes,
                "critical_s": worker.critical_s,
                "critical_parts": worker.critical_parts,
                "thread_cpu_s": threads,
            },
            f,
        )


if __name__ == "__main__":
    main()
