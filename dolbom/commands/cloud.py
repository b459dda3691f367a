"""`dolbom cloud ...`: ingest, alerts and the caregiver API."""

import secrets
import sys
from datetime import UTC, datetime

import typer
from pydantic import SecretStr, ValidationError

from cloud.errors import CloudError
from cloud.settings import CloudSettings
from cloud.store.models import Role
from dolbom.bilingual import fail, fail_with

app = typer.Typer(help="The cloud service.", no_args_is_help=True)


def _settings(**overrides: object) -> CloudSettings:
    try:
        settings = CloudSettings()
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise fail(
            f"설정 DOLBOM_{where.upper()} 값이 올바르지 않습니다",
            f"invalid setting DOLBOM_{where.upper()}: {first['msg']}",
        ) from None
    update = {k: v for k, v in overrides.items() if v is not None}
    return settings.model_copy(update=update) if update else settings


@app.command("serve")
def serve(
    host: str | None = typer.Option(None, help="HTTP host (default DOLBOM_HTTP_HOST)."),
    port: int | None = typer.Option(None, help="HTTP port (default DOLBOM_HTTP_PORT)."),
) -> None:
    """Run ingest, webhook delivery and the caregiver API until Ctrl-C."""
    from cloud.service import CloudService

    settings = _settings(http_host=host, http_port=port)
    if settings.api_token is None:
        token = secrets.token_urlsafe(32)
        settings = settings.model_copy(update={"api_token": SecretStr(token)})
        typer.echo(f"No DOLBOM_API_TOKEN set; generated one (shown once): {token}")
    try:
        CloudService(settings).serve(
            on_listening=lambda url: typer.echo(f"API: {url}  (GET /healthz, /alerts, /devices)")
        )
    except CloudError as e:
        raise fail_with(e, "클라우드 작업에 실패했습니다", 1) from None


@app.command("migrate")
def migrate_cmd(
    database_url: str | None = typer.Option(
        None, "--database-url", help="Default DOLBOM_DATABASE_URL."
    ),
) -> None:
    """Upgrade the store's schema to the newest revision."""
    from cloud.store import current_revision, migrate

    settings = _settings(database_url=database_url)
    try:
        migrate(settings.database_url)
        typer.echo(f"store at revision {current_revision(settings.database_url)}")
    except CloudError as e:
        raise fail_with(e, "클라우드 작업에 실패했습니다", 1) from None


@app.command("partitions")
def partitions_cmd(
    database_url: str | None = typer.Option(
        None, "--database-url", help="Default DOLBOM_DATABASE_URL."
    ),
    heartbeat_days: int = typer.Option(
        3, min=1, help="Days heartbeat rows are kept (their hourly roll-up stays)."
    ),
    battery_days: int = typer.Option(90, min=1, help="Days battery reports are kept."),
    default_days: int = typer.Option(3 * 365, min=1, help="Days every other event is kept."),
    ahead_months: int = typer.Option(3, min=1, max=24, help="Months of partitions made ahead."),
    full: bool = typer.Option(False, "--full", help="Delete every expired row, not a month's."),
) -> None:
    """Create the events partitions ahead and apply the retention policy (run daily)."""
    from sqlalchemy.exc import SQLAlchemyError

    from cloud.store import make_engine
    from cloud.store.partitions import RetentionPolicy, maintain

    settings = _settings(database_url=database_url)
    policy = RetentionPolicy(
        days={**RetentionPolicy().days, "heartbeat": heartbeat_days, "battery": battery_days},
        default_days=max(default_days, heartbeat_days, battery_days),
        ahead_months=ahead_months,
    )
    engine = make_engine(settings.database_url)
    try:
        done = maintain(engine, datetime.now(UTC), policy, full=full)
    except SQLAlchemyError as e:
        raise fail("저장소 작업에 실패했습니다", f"the store refused: {e}", 1) from None
    finally:
        engine.dispose()
    typer.echo(
        f"파티션 생성 {len(done.created)}개, 삭제 {len(done.dropped)}개,"
        f" 행 삭제 {done.deleted_rows}개 (연구 보존 로봇 {done.held_devices}대,"
        f" 저장 하한 갱신 {done.floors_raised}개)"
        f" / partitions created {len(done.created)},"
        f" dropped {len(done.dropped)}, rows deleted {done.deleted_rows}"
        f" (robots kept for research {done.held_devices}, settled floors raised"
        f" {done.floors_raised})"
    )


@app.command("create-account")
def create_account_cmd(
    username: str = typer.Option(..., "--username", help="Login name (case-insensitive)."),
    role: Role = typer.Option(..., "--role", help="admin, caregiver, researcher or installer."),
    display_name: str | None = typer.Option(None, "--display-name", help="Default: username."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", help="Default DOLBOM_DATABASE_URL."
    ),
) -> None:
    """Create an account (e.g. the first admin); the password is prompted for, never defaulted."""
    from cloud.accounts import Passwords, create_account
    from cloud.store import make_engine, make_session_factory, migrate

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings(database_url=database_url)
    try:
        migrate(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            with make_session_factory(engine)() as session, session.begin():
                account = create_account(
                    session,
                    Passwords(),
                    username=username,
                    role=role,
                    password=password,
                    display_name=display_name,
                    now=datetime.now(UTC),
                )
                typer.echo(f"created {account.role.value} account {account.username!r}")
        finally:
            engine.dispose()
    except CloudError as e:
        raise fail_with(e, "클라우드 작업에 실패했습니다", 1) from None


def _account_change(
    database_url: str | None, username: str, change: str, password: str = ""
) -> None:
    """Disable, enable or reset the password of an account in the store; sessions end."""
    from cloud.accounts import Passwords
    from cloud.accounts.access import SERVICE, Principal
    from cloud.accounts.audit import audit
    from cloud.accounts.service import find_account, set_disabled, set_password
    from cloud.store import make_engine, make_session_factory, migrate

    settings = _settings(database_url=database_url)
    try:
        migrate(settings.database_url)
        engine = make_engine(settings.database_url)
        try:
            with make_session_factory(engine)() as session, session.begin():
                account = find_account(session, username)
                if change == "password":
                    set_password(Passwords(), account, password)
                else:
                    set_disabled(account, change == "disable")
                now = datetime.now(UTC)
                cli = Principal(SERVICE.role, None, "cli", "cli")
                audit(session, cli, change, "account", now, resource_id=account.id, detail="cli")
                done = {
                    "disable": "비활성화했고 모든 세션을 끝냈습니다 / disabled; every session"
                    " ended",
                    "enable": "다시 활성화했습니다 / enabled",
                    "password": "비밀번호를 바꾸고 모든 세션을 끝냈습니다 / password set; every"
                    " session ended",
                }[change]
                typer.echo(f"{account.username}: {done}")
        finally:
            engine.dispose()
    except CloudError as e:
        raise fail_with(e, "클라우드 작업에 실패했습니다", 1) from None


_USERNAME = typer.Option(..., "--username", help="The account's login name.")
_DB_URL = typer.Option(None, "--database-url", help="Default DOLBOM_DATABASE_URL.")


@app.command("disable-account")
def disable_account_cmd(username: str = _USERNAME, database_url: str | None = _DB_URL) -> None:
    """Disable an account: no more logins, and every session it has ends now."""
    _account_change(database_url, username, "disable")


@app.command("enable-account")
def enable_account_cmd(username: str = _USERNAME, database_url: str | None = _DB_URL) -> None:
    """Enable a disabled account again."""
    _account_change(database_url, username, "enable")


@app.command("reset-password")
def reset_password_cmd(
    username: str = _USERNAME,
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from the first line of stdin."
    ),
    database_url: str | None = _DB_URL,
) -> None:
    """Set an account's password (prompted for); every session of the account ends."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("New password", hide_input=True, confirmation_prompt=True)
    _account_change(database_url, username, "password", password)
