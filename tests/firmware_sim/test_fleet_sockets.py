"""The fleet simulator releases every socket it opens, also when a connect is cancelled."""

import asyncio
import socket
from typing import Any, ClassVar

import pytest

from firmware_sim.fleet import BrokerAddress, FleetConfig, FleetSimulator


class _Recorded(socket.socket):
    made: ClassVar[list[socket.socket]] = []

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _Recorded.made.append(self)


def test_a_connect_cancelled_at_shutdown_closes_its_socket(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    config = FleetConfig(devices=1, duration_s=1.0, broker=BrokerAddress("127.0.0.1", 1883))
    sim = FleetSimulator(config)
    _Recorded.made = []
    monkeypatch.setattr(socket, "socket", _Recorded)

    async def main() -> None:
        loop = asyncio.get_running_loop()
        started = asyncio.Event()

        async def never_connects(_sock: socket.socket, _address: Any) -> None:
            started.set()
            await asyncio.Event().wait()

        monkeypatch.setattr(loop, "sock_connect", never_connects)
        sim._running_loop = loop
        task = loop.create_task(sim._handshake(sim.devices[0]))
        await started.wait()
        task.cancel()  # what `_close_everything` does to a connect still in progress
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())
    tcp = [s for s in _Recorded.made if s.family in (socket.AF_INET, socket.AF_INET6)]
    assert len(tcp) == 1
    assert tcp[0].fileno() == -1  # closed, not left to the garbage collector
