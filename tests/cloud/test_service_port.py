"""`dolbom cloud serve` on a port another program holds says so in one line, in both languages."""

import socket
from pathlib import Path

import pytest

from cloud.errors import CloudError
from cloud.service import CloudService
from cloud.settings import CloudSettings


def test_a_busy_port_is_one_clear_error_not_a_traceback(tmp_path: Path) -> None:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        service = CloudService(
            CloudSettings(
                database_url=f"sqlite:///{tmp_path / 'c.sqlite3'}",
                http_host="127.0.0.1",
                http_port=port,
            )
        )
        with pytest.raises(CloudError) as e:
            service.start_api()
    message = str(e.value)
    assert f"port 127.0.0.1:{port} is already in use" in message
    assert "포트를 이미 다른 프로그램이 쓰고 있습니다" in message
    assert "\n" not in message
