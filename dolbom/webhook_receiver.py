"""A caregiver's webhook endpoint for the demo and benchmarks: checks signatures, times arrivals."""

import json
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from cloud.alerts.webhook import verify


@dataclass(frozen=True)
class Received:
    """One webhook call as the caregiver's server saw it."""

    body: dict[str, Any]
    signature_ok: bool
    at_monotonic: float
    at: datetime


class WebhookReceiver:
    """An HTTP server on 127.0.0.1 that records every signed alert it is sent."""

    def __init__(self, secret: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self._secret = secret
        self.received: list[Received] = []
        self._cond = threading.Condition()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                stamp = self.headers.get("X-Dolbom-Timestamp", "")
                signature = self.headers.get("X-Dolbom-Signature", "")
                ok = verify(receiver._secret, stamp, raw, signature, datetime.now(UTC))
                try:
                    body = json.loads(raw)
                except json.JSONDecodeError:
                    body = {}
                self.send_response(204 if ok else 401)
                self.end_headers()
                receiver._record(Received(body, ok, time.monotonic(), datetime.now(UTC)))

            def log_message(self, format: str, *args: Any) -> None:
                return

        self._server = ThreadingHTTPServer((host, port), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        """Where the cloud should post."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/dolbom/alerts"

    def start(self) -> "WebhookReceiver":
        """Serve in a background thread."""
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def _record(self, item: Received) -> None:
        with self._cond:
            self.received.append(item)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout_s: float) -> bool:
        """Block until `count` calls have arrived, or the timeout passes."""
        with self._cond:
            return self._cond.wait_for(lambda: len(self.received) >= count, timeout=timeout_s)

    def wait_for_device(self, device_id: str, timeout_s: float) -> Received | None:
        """The first call about `device_id` (others may share the broker), or None on timeout."""

        def first() -> Received | None:
            return next((r for r in self.received if r.body.get("device_id") == device_id), None)

        with self._cond:
            self._cond.wait_for(lambda: first() is not None, timeout=timeout_s)
            return first()
