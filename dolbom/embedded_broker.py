"""An in-process MQTT broker (amqtt) for `dolbom demo`, so the demo needs no system broker."""

import asyncio
import contextlib
import logging
import threading
from concurrent.futures import Future
from typing import Any

from amqtt.adapters import StreamReaderAdapter, StreamWriterAdapter
from amqtt.broker import Broker

log = logging.getLogger(__name__)

_START_TIMEOUT_S = 10.0
_STOP_TIMEOUT_S = 10.0
_LISTENER = "default"


class EmbeddedBrokerError(RuntimeError):
    """The embedded broker could not start or stop."""


class EmbeddedBroker:
    """amqtt 0.12.1 on 127.0.0.1 in its own thread and asyncio loop; anonymous clients allowed.

    Limits (checked): it speaks MQTT 3.1.1 only — an MQTT 5 CONNECT is refused, so devices and
    the cloud must use `protocol = "3.1.1"` against it — and it silently delivers nothing to a
    `$share/...` subscription, so the cloud must subscribe plainly (one ingest worker).
    Retained messages and last wills work; nothing is persisted across restarts.
    """

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._broker: Any = None
        self._stopped: asyncio.Event | None = None

    def start(self) -> None:
        """Start listening; return once clients can connect (`port` holds the real port)."""
        if self._thread is not None:
            raise EmbeddedBrokerError("the embedded broker is already running")
        started: Future[int] = Future()
        self._thread = threading.Thread(
            target=self._thread_main, args=(started,), name="dolbom-embedded-broker", daemon=True
        )
        self._thread.start()
        try:
            self.port = started.result(timeout=_START_TIMEOUT_S)
        except Exception as e:
            self._thread.join(_STOP_TIMEOUT_S)
            self._thread = None
            raise EmbeddedBrokerError(
                f"the embedded MQTT broker could not listen on {self.host}:{self.port}: {e}"
            ) from e
        log.info("embedded MQTT broker (amqtt, MQTT 3.1.1) on %s:%d", self.host, self.port)

    def stop(self) -> None:
        """Disconnect every client, close the listener and end the broker's thread."""
        thread, loop, stopped = self._thread, self._loop, self._stopped
        if thread is None or loop is None or stopped is None:
            return
        loop.call_soon_threadsafe(stopped.set)
        thread.join(_STOP_TIMEOUT_S)
        if thread.is_alive():
            raise EmbeddedBrokerError("the embedded MQTT broker did not stop in time")
        self._thread = None
        self._loop = None

    def __enter__(self) -> "EmbeddedBroker":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _thread_main(self, started: "Future[int]") -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(started))
        except Exception as e:
            if not started.done():
                started.set_exception(e)
            else:
                log.exception("the embedded MQTT broker failed")
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _serve(self, started: "Future[int]") -> None:
        # The listener is ours (amqtt's public "external" listener type): this loop's TCP server
        # hands each connection to `Broker.external_connected`, and the port it bound (0: any
        # free one) is read from our own server, not from the broker's private listeners.
        config = {
            "listeners": {_LISTENER: {"type": "external"}},
            # Only anonymous auth: amqtt's default packet/event loggers and $SYS plugin are noise.
            "plugins": {
                "amqtt.plugins.authentication.AnonymousAuthPlugin": {"allow_anonymous": True}
            },
        }
        broker = Broker(config)
        self._broker = broker
        self._stopped = asyncio.Event()
        await broker.start()
        server: asyncio.Server | None = None
        writers: set[asyncio.StreamWriter] = set()  # clients not served to the end yet
        tasks: set[asyncio.Future[None]] = set()

        def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            writers.add(writer)  # forgotten once served: _connected closes it
            task = asyncio.ensure_future(_connected(broker, reader, writer, writers))
            tasks.add(task)  # a reference while it runs
            task.add_done_callback(tasks.discard)

        try:
            server = await asyncio.start_server(accept, self.host, self.port, reuse_address=True)
            port = int(server.sockets[0].getsockname()[1])
            started.set_result(port)
            await self._stopped.wait()
        finally:
            # The broker first: its awaits let a connection accepted just before `stop` get its
            # transport (closing the server under it fails the transport in asyncio 3.11).
            await broker.shutdown()
            await _cancel_leftover_tasks()
            for writer in writers:  # a client cancelled before it was served
                writer.close()
            if server is not None:
                server.close()
                await server.wait_closed()


async def _connected(
    broker: Any,
    reader: asyncio.StreamReader,
    writer: asyncio.StreamWriter,
    writers: set[asyncio.StreamWriter],
) -> None:
    """One client's connection, served by amqtt; its socket closed when it ends (amqtt leaks
    some)."""
    # Cancellation only happens when the broker stops; it is swallowed because Python 3.11's
    # stream callback logs a cancelled client task as an unhandled exception.
    with contextlib.suppress(asyncio.CancelledError):
        try:
            await broker.external_connected(
                StreamReaderAdapter(reader), StreamWriterAdapter(writer), _LISTENER
            )
        finally:
            writers.discard(writer)
            writer.close()
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await writer.wait_closed()


async def _cancel_leftover_tasks() -> None:
    """End client handlers amqtt leaves running, so their sockets close inside this loop."""
    current = asyncio.current_task()
    leftovers = [t for t in asyncio.all_tasks() if t is not current]
    for task in leftovers:
        task.cancel()
    await asyncio.gather(*leftovers, return_exceptions=True)
