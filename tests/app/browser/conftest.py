"""The browser tests' fixtures: the app on SQLite (the pages' SQL is tested on both stores in
tests/app), served by uvicorn on 127.0.0.1, Debian's chromium through Playwright, and the whole
cloud on Mosquitto for the live tests."""

import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import Browser, sync_playwright
from pydantic import SecretStr
from sqlalchemy.orm import Session, sessionmaker

from cloud.accounts import Passwords, create_account
from cloud.api import create_app
from cloud.service import CloudService
from cloud.settings import CloudSettings
from cloud.store.models import CaregiverLink, Device, Role, Senior
from tests.app.browser.pages import CHROMIUM
from tests.cloud.api.conftest import PASSWORD, Clock, FakePublisher, settings
from tests.cloud.helpers import NOW, new_device_id


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


@pytest.fixture(scope="package")
def _chromium_process() -> Iterator[Browser]:
    """One chromium for the browser tests (a launch is ~1 s quiet, 3-5 s under load, per test)."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield browser
        browser.close()


@pytest.fixture
def chromium(_chromium_process: Browser) -> Iterator[Browser]:
    """The shared chromium; a test opens its own contexts (cookies, storage, service workers and
    permissions are per context), and whatever contexts it leaves open are closed after it."""
    assert _chromium_process.is_connected(), "chromium died in an earlier test"
    assert not _chromium_process.contexts, "an earlier test's contexts are still open"
    yield _chromium_process
    for context in list(_chromium_process.contexts):
        context.close()


@pytest.fixture
def cloud(
    mqtt_broker: tuple[str, int], tmp_path: Path, passwords: Passwords
) -> Iterator[tuple[str, str]]:
    """The cloud (ingest, alerts, API and app) on Mosquitto; (its URL, the robot's id)."""
    host, port = mqtt_broker
    settings = CloudSettings(
        database_url=f"sqlite:///{tmp_path / 'cloud.sqlite3'}",
        mqtt_host=host,
        mqtt_port=port,
        mqtt_share_group=f"test-{uuid.uuid4().hex[:10]}",
        api_token=SecretStr("live-test-token-0123"),
        auth_secret=SecretStr("live-test-secret-0123456789-0123456789-abc"),
        auth_cookie_secure=False,
        http_port=0,
        sse_poll_s=0.05,
        data_dir=str(tmp_path / "data"),
    )
    svc = CloudService(settings)
    svc.start(mqtt_wait_s=10)
    try:
        assert svc.worker is not None
        assert svc.worker.wait_subscribed(10), "the cloud could not subscribe on Mosquitto"
        device = new_device_id()
        with svc.sessions() as s, s.begin():
            alice = create_account(
                s, passwords, username="alice", role=Role.CAREGIVER, password=PASSWORD, now=NOW
            )
            s.add(Senior(id="s-a", display_name="김순자", settings={}, created_at=NOW))
            s.flush()
            s.add(CaregiverLink(account_id=alice.id, senior_id="s-a", relation="daughter"))
            s.add(Device(id=device, senior_id="s-a", first_seen=NOW, last_seen=NOW))
        url = svc.start_api()
        yield url, device
    finally:
        svc.stop()
