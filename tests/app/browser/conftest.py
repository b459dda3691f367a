"""The browser tests' fixtures: the app on SQLite (the pages' SQL is tested on both stores in
tests/app), served by uvicorn on 127.0.0.1, and Debian's chromium through Playwright."""

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, sync_playwright
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords
from cloud.api import create_app
from tests.app.browser.pages import CHROMIUM
from tests.cloud.api.conftest import Clock, FakePublisher, settings


@pytest.fixture
def sessions(sqlite_sessions: sessionmaker[Session]) -> sessionmaker[Session]:
    """The browser tests run on SQLite only (the pages' SQL is tested on both stores)."""
    return sqlite_sessions


@pytest.fixture
def plain_http_app(
    sessions: sessionmaker[Session],
    publisher: FakePublisher,
    clock: Clock,
    passwords: Passwords,
    tmp_path: Path,
) -> FastAPI:
    return create_app(
        settings(data_dir=str(tmp_path / "data"), auth_cookie_secure=False),
        session_factory=sessions,
        publisher=publisher,
        mqtt_connected=lambda: True,
        clock=clock,
        passwords=passwords,
    )


@pytest.fixture
def base_url(plain_http_app: FastAPI) -> Iterator[str]:
    """The app served by uvicorn on a free port of 127.0.0.1."""
    config = uvicorn.Config(
        plain_http_app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    started = threading.Event()
    while not started.wait(0.02):
        if server.started:
            started.set()
        assert thread.is_alive(), "uvicorn did not start"
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    plain_http_app.state.ctx.shutdown.set()  # ends the open alert streams
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def chromium() -> Iterator[Browser]:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()
