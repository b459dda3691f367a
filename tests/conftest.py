"""Shared fixtures for every test package: the real PostgreSQL and Mosquitto on 127.0.0.1."""

import os
import socket
import uuid
from collections.abc import Iterator

import pytest

PG_ADMIN_URL = os.environ.get(
    "DOLBOM_TEST_PG_ADMIN_URL", "postgresql://postgres:postgres@127.0.0.1:5432/postgres"
)
MQTT_HOST = os.environ.get("DOLBOM_TEST_MQTT_HOST", "127.0.0.1")
MQTT_PORT = int(os.environ.get("DOLBOM_TEST_MQTT_PORT", "1883"))


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session (SQLAlchemy URL), dropped at the end."""
    import psycopg
    from psycopg import sql
    from sqlalchemy import make_url

    name = f"dolbom_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as e:
        reason = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_URL} ({reason}): start it with"
            " `make services` (it starts it and sets the postgres password the suite uses), or set"
            " DOLBOM_TEST_PG_ADMIN_URL",
            pytrace=False,
        )
    with admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_url(PG_ADMIN_URL).set(drivername="postgresql+psycopg", database=name)
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture(scope="session")
def mqtt_broker() -> tuple[str, int]:
    """(host, port) of the real Mosquitto broker; fails with an instruction when it is down."""
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=3):
            pass
    except OSError as e:
        pytest.fail(
            f"Mosquitto is not reachable at {MQTT_HOST}:{MQTT_PORT} ({e}): start it with"
            " `service mosquitto start` (or `mosquitto -d`), or set DOLBOM_TEST_MQTT_HOST/PORT",
            pytrace=False,
        )
    return MQTT_HOST, MQTT_PORT
