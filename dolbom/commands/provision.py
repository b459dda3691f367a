"""`dolbom provision ...`: seniors, and robots with their broker credentials and config."""

from datetime import UTC, datetime
from pathlib import Path

import typer

from cloud.settings import CloudSettings
from dolbom.bilingual import fail_with

app = typer.Typer(help="Provision seniors and robots.", no_args_is_help=True)

_DEFAULT_DB = str(CloudSettings.model_fields["database_url"].default)
_DB_HELP = "The cloud's store (default: DOLBOM_DATABASE_URL, else the embedded SQLite file)."


@app.command("senior")
def senior(
    senior_id: str = typer.Option(..., "--id", help="The senior's id, e.g. s-0001."),
    name: str = typer.Option(..., "--name", help="The name caregivers see."),
    language: str = typer.Option("ko", "--language", help="ko or en: the robot speaks it."),
    database_url: str = typer.Option(
        _DEFAULT_DB, "--database-url", envvar="DOLBOM_DATABASE_URL", help=_DB_HELP
    ),
    force: bool = typer.Option(False, "--force", help="Update an existing senior."),
) -> None:
    """Create a senior, so robots can be provisioned for them."""
    from dolbom.provisioning import ProvisionError, create_senior, safe_url

    try:
        action = create_senior(
            database_url, senior_id, name, language, datetime.now(UTC), force=force
        )
    except ProvisionError as e:
        raise fail_with(e, "등록하지 못했습니다") from None
    typer.echo(f"senior {senior_id} ({name}, {language}) {action} in {safe_url(database_url)}")


@app.command("device")
def device(
    senior_id: str = typer.Option(..., "--senior", help="The senior the robot cares for."),
    passwd_file: Path = typer.Option(
        ..., "--passwd-file", help="Mosquitto's password file (created if missing)."
    ),
    out: Path = typer.Option(..., "--out", help="Where to write the robot's TOML config."),
    broker_host: str = typer.Option(..., "--broker-host", help="The broker as the robot sees it."),
    broker_port: int | None = typer.Option(
        None, "--broker-port", help="Default 8883 with --tls, else 1883."
    ),
    device_id: str | None = typer.Option(
        None, "--device-id", help="Default: a new robot-<8 hex> id."
    ),
    acl_file: Path | None = typer.Option(
        None, "--acl-file", help="Mosquitto's ACL file: created, or given the device patterns."
    ),
    tls: bool = typer.Option(False, "--tls", help="The robot connects over TLS."),
    ca_file: Path | None = typer.Option(
        None, "--ca-file", help="CA certificate the robot trusts (with --tls)."
    ),
    data_dir: str | None = typer.Option(
        None, "--data-dir", help="The robot's data folder (default: var/device beside the config)."
    ),
    database_url: str = typer.Option(
        _DEFAULT_DB, "--database-url", envvar="DOLBOM_DATABASE_URL", help=_DB_HELP
    ),
    force: bool = typer.Option(
        False, "--force", help="Overwrite the config / re-provision an existing device id."
    ),
    show_password: bool = typer.Option(
        False, "--show-password", help="Print the broker password (it is in the config anyway)."
    ),
) -> None:
    """Create a robot's id and broker password, pin it in the ACL, register it, write its config."""
    from dolbom.provisioning import DeviceRequest, ProvisionError, provision_device, safe_url

    request = DeviceRequest(
        senior_id=senior_id,
        database_url=database_url,
        passwd_file=passwd_file,
        out=out,
        broker_host=broker_host,
        broker_port=broker_port if broker_port is not None else (8883 if tls else 1883),
        device_id=device_id,
        acl_file=acl_file,
        tls=tls,
        ca_file=ca_file,
        data_dir=data_dir,
        force=force,
    )
    try:
        done = provision_device(request)
    except ProvisionError as e:
        raise fail_with(e, "등록하지 못했습니다") from None
    echo = typer.echo
    echo(f"provisioned {done.device_id} for senior {done.senior_id} (language {done.language})")
    echo(f"  store     {safe_url(database_url)}: {done.store_action}")
    pw = f"password {done.password}" if show_password else "password not shown"
    echo(f"  broker    user {done.device_id} {done.passwd_action} in {done.passwd_file} ({pw})")
    if done.acl_file is not None:
        echo(f"  ACL       {done.acl_file}: {done.acl_action}")
    echo(f"  config    {done.config_path} (mode 0600): copy it to the robot")
    for note in done.notes:
        echo(f"  note      {note}")
    echo(
        "next: make Mosquitto reload its password file and ACL:"
        " `sudo kill -HUP $(pidof mosquitto)` (or `sudo systemctl reload mosquitto`)"
    )
