"""The store through PgBouncer in transaction pooling mode (deploy/pgbouncer/pgbouncer.ini).

The committed config is run with its listen address, port, database hosts and auth file
replaced, in front of the test PostgreSQL, with fewer server connections than clients so that
transactions of different clients share server connections. Migrations (advisory xact lock),
bulk and one-by-one ingest from two workers at once with redeliveries, the sweep's advisory
lock and the read-only reports engine all work; server-side prepared statements do not, which
is why the URL carries `?prepare_threshold=none`.
"""

import configparser
import os
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import func, make_url, select, text

from cloud.alerts import AlertEngine
from cloud.alerts.worker import sweep_turn
from cloud.ingest import parse_message, store_batch
from cloud.store import Event, make_engine, make_session_factory, migrate
from cloud.store.db import make_reports_engine
from cloud.store.scratch import scratch_database
from protocol import events_topic
from tests.cloud.helpers import NOW, heartbeat
from tests.conftest import PG_ADMIN_URL

INI = Path(__file__).resolve().parents[2] / "deploy" / "pgbouncer" / "pgbouncer.ini"
PASSWORD = "pgbouncer-test-password"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(database: str, port: int, folder: Path) -> str:
    """The committed config, pointed at the test PostgreSQL on loopback."""
    parser = configparser.ConfigParser(interpolation=None, comment_prefixes=(";", "#"))
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(INI, encoding="utf-8")
    pg = make_url(PG_ADMIN_URL)
    server = f"host={pg.host} port={pg.port or 5432} dbname={database}"
    assert set(parser["databases"]) == {"dolbom", "dolbom_reports"}
    parser["databases"] = {"dolbom": server, "dolbom_reports": server}
    bouncer = parser["pgbouncer"]
    assert bouncer["pool_mode"] == "transaction"
    assert bouncer["auth_type"] == "scram-sha-256"
    bouncer.update(
        {
            "listen_addr": "127.0.0.1",
            "listen_port": str(port),
            "auth_file": str(folder / "userlist.txt"),
            "unix_socket_dir": "",
            "logfile": "",
            "pidfile": "",
            # Fewer server connections than clients: transactions of different clients
            # share server connections, as under load.
            "default_pool_size": "2",
            "reserve_pool_size": "0",
        }
    )
    out = folder / "pgbouncer.ini"
    with out.open("w", encoding="utf-8") as f:
        parser.write(f)
    return str(out)


@pytest.fixture(scope="module")
def bouncer() -> Iterator[tuple[str, str]]:
    """(URL through PgBouncer with prepare_threshold=none, direct URL) of a fresh database."""
    binary = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    if not Path(binary).exists():
        pytest.fail("pgbouncer is not installed: `make services` (apt-get install pgbouncer)")
    pg = make_url(PG_ADMIN_URL)
    with scratch_database(PG_ADMIN_URL, "dolbom_pgbouncer") as direct:
        database = make_url(direct).database
        assert database is not None
        # PgBouncer refuses to run as root: as root, it runs as `postgres` from a folder that
        # user can read.
        folder = Path(tempfile.mkdtemp(prefix="dolbom-pgbouncer-"))
        os.chmod(folder, 0o755)  # noqa: S103 - holds no secret beyond this test's password
        (folder / "userlist.txt").write_text(f'"{pg.username}" "{PASSWORD}"\n')
        port = _free_port()
        args = [binary, _config(database, port, folder)]
        if os.geteuid() == 0:
            args[1:1] = ["-u", "postgres"]
            for f in folder.iterdir():
                os.chmod(f, 0o644)
        log = folder / "pgbouncer.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT)
        try:
            for _ in range(100):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    break
                except OSError:
                    if proc.poll() is not None:
                        pytest.fail(f"pgbouncer exited: {log.read_text(errors='replace')}")
                    time.sleep(0.1)
            url = (
                f"postgresql://{pg.username}:{PASSWORD}@127.0.0.1:{port}/dolbom"
                "?prepare_threshold=none"
            )
            yield url, direct
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            shutil.rmtree(folder, ignore_errors=True)


def test_migrations_and_concurrent_ingest_through_transaction_pooling(
    bouncer: tuple[str, str],
) -> None:
    url, direct = bouncer
    migrate(url)  # the advisory lock is transaction-scoped: fine through the pooler
    migrate(url)  # and again: already at head
    devices = [f"pgb-{i:02d}" for i in range(12)]
    errors: list[BaseException] = []

    def worker(offset: int) -> None:
        engine = make_engine(url)
        sessions = make_session_factory(engine)
        try:
            # 30 batches per worker: far past psycopg's 5 runs before it would prepare.
            for batch in range(30):
                seqs = range(batch * 3 + 1, batch * 3 + 4)
                messages = [
                    parse_message(events_topic(d), heartbeat(d, seq))
                    for d in devices[offset::2]
                    for seq in seqs
                ]
                # Every batch also redelivers the previous one's messages.
                messages += [
                    parse_message(events_topic(d), heartbeat(d, seq - 3))
                    for d in devices[offset::2]
                    for seq in seqs
                    if seq > 3
                ]
                with sessions() as s, s.begin():
                    store_batch(s, messages, NOW, alerts=AlertEngine())
                with sessions() as s, s.begin():
                    sweep_turn(s)
        except BaseException as e:  # reported below
            errors.append(e)
        finally:
            engine.dispose()

    threads = [threading.Thread(target=worker, args=(i,)) for i in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=300)
    assert errors == []
    plain = make_engine(direct)
    try:
        with plain.connect() as conn:
            rows = conn.scalar(select(func.count()).select_from(Event))
            keys = conn.scalar(
                text("SELECT count(*) FROM (SELECT DISTINCT device_id, epoch, seq FROM events) k")
            )
    finally:
        plain.dispose()
    assert rows == keys == 12 * 90  # no loss, no duplicate


def test_reports_engine_is_read_only_through_the_pooler(bouncer: tuple[str, str]) -> None:
    url, _ = bouncer
    migrate(url)
    reports = make_reports_engine(url.replace("/dolbom?", "/dolbom_reports?"))
    plain = make_engine(url)
    try:
        for _ in range(3):  # each transaction, on whichever server connection
            with reports.begin() as conn:
                assert conn.scalar(text("SHOW transaction_read_only")) == "on"
            with plain.begin() as conn:
                assert conn.scalar(text("SHOW transaction_read_only")) == "off"
    finally:
        reports.dispose()
        plain.dispose()


def test_server_side_prepared_statements_break_through_transaction_pooling(
    bouncer: tuple[str, str],
) -> None:
    """Why the URL says prepare_threshold=none: two clients sharing one server connection both
    prepare psycopg's first statement name on it (PgBouncer 1.18, Debian 12)."""
    url, _ = bouncer
    u = make_url(url)
    conninfo = f"host=127.0.0.1 port={u.port} dbname=dolbom user={u.username} password={PASSWORD}"
    with (
        psycopg.connect(conninfo, autocommit=True) as a,
        psycopg.connect(conninfo, autocommit=True) as b,
    ):
        a.prepare_threshold = b.prepare_threshold = 0  # prepare at once
        a.execute("SELECT %s::int", (1,))
        # PgBouncer hands out the server connection used last (LIFO): a's, where psycopg's
        # first statement name is already prepared.
        with pytest.raises(psycopg.errors.DuplicatePreparedStatement):
            b.execute("SELECT %s::int", (1,))
        a.prepare_threshold = b.prepare_threshold = None
        assert a.execute("SELECT %s::int", (2,)).fetchone() == (2,)
