"""`dolbom research`: pilot studies, consent, metrics, statistics, exports and reports.

Settings come from the cloud's `DOLBOM_*` variables (DATABASE_URL; MQTT_* to tell robots about
consent changes). Every change is audited as the `cli` actor.
"""

import contextlib
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import typer
from pydantic import ValidationError
from sqlalchemy.orm import Session

from cloud.accounts.access import Principal
from cloud.errors import CloudError
from cloud.settings import CloudSettings
from cloud.store.models import Retention, Role
from dolbom.bilingual import error_line, error_of, fail, fail_with
from protocol import Command, commands_topic

app = typer.Typer(
    help="Pilot studies: consent, metrics, statistics, de-identified exports and reports.",
    no_args_is_help=True,
)
study_app = typer.Typer(help="Create and inspect studies.", no_args_is_help=True)
metrics_app = typer.Typer(help="Daily wellbeing metrics.", no_args_is_help=True)
app.add_typer(study_app, name="study")
app.add_typer(metrics_app, name="metrics")

CLI = Principal(role=Role.ADMIN, account_id=None, username="cli", display_name="dolbom research")
_DB = typer.Option(None, "--database-url", help="Default DOLBOM_DATABASE_URL.")


def _settings(database_url: str | None) -> CloudSettings:
    try:
        settings = CloudSettings()
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise fail(
            f"설정 DOLBOM_{where.upper()} 값이 올바르지 않습니다",
            f"invalid setting DOLBOM_{where.upper()}: {first['msg']}",
        ) from None
    return settings.model_copy(update={"database_url": database_url}) if database_url else settings


@contextlib.contextmanager
def _session(database_url: str | None) -> Iterator[tuple[Session, CloudSettings]]:
    """A migrated store and one transaction; CloudError → one line on stderr, exit 1."""
    from cloud.store import make_engine, make_session_factory, migrate

    settings = _settings(database_url)
    try:
        migrate(settings.database_url)
        engine = make_engine(settings.database_url)
    except CloudError as e:
        raise fail_with(e, "저장소 작업에 실패했습니다", 1) from None
    try:
        with make_session_factory(engine)() as session, session.begin():
            yield session, settings
    except CloudError as e:
        raise fail_with(e, "저장소 작업에 실패했습니다", 1) from None
    finally:
        engine.dispose()


def _now() -> datetime:
    return datetime.now(UTC)


def _publish(settings: CloudSettings, commands: list[Command], timeout_s: float = 5.0) -> int:
    """Send commands to the robots over the broker; returns how many were acknowledged."""
    if not commands:
        return 0
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    v5 = settings.mqtt_protocol == "5"
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"dolbom-research-{uuid.uuid4().hex[:8]}",
        protocol=mqtt.MQTTv5 if v5 else mqtt.MQTTv311,
    )
    if settings.mqtt_username:
        password = settings.mqtt_password.get_secret_value() if settings.mqtt_password else None
        client.username_pw_set(settings.mqtt_username, password)
    if settings.mqtt_tls:
        client.tls_set(ca_certs=settings.mqtt_ca_file)
    try:
        client.connect(settings.mqtt_host, settings.mqtt_port, keepalive=30)
    except OSError as e:
        typer.echo(
            error_line(
                f"브로커 {settings.mqtt_host}:{settings.mqtt_port}에 닿을 수 없어 명령"
                f" {len(commands)}개를 보내지 못했습니다. 변경은 저장되었으니 브로커가 돌아오면"
                " 명령을 다시 실행해 로봇에 알리세요",
                f"broker {settings.mqtt_host}:{settings.mqtt_port} unreachable ({e}); "
                f"{len(commands)} command(s) not sent — the change is stored, re-run the command "
                "when the broker is back so the robot learns of it",
                label=("경고", "warning"),
            ),
            err=True,
        )
        return 0
    client.loop_start()
    sent = 0
    try:
        for command in commands:
            info = client.publish(
                commands_topic(command.device_id), command.model_dump_json().encode(), qos=1
            )
            with contextlib.suppress(RuntimeError, ValueError):
                info.wait_for_publish(timeout_s)
            if info.is_published():
                sent += 1
    finally:
        client.disconnect()
        client.loop_stop()
    if sent < len(commands):
        typer.echo(
            error_line(
                f"명령 {len(commands) - sent}개가 확인되지 않았습니다",
                f"{len(commands) - sent} command(s) were not acknowledged",
                label=("경고", "warning"),
            ),
            err=True,
        )
    return sent


def _parse_schedule(text: str | None) -> Any:
    from cloud.research.studies import TimePointSpec

    if text is None:
        return None
    specs = []
    for part in text.split(","):
        try:
            label, day, instruments = part.strip().split(":")
            specs.append(TimePointSpec(label, int(day), tuple(instruments.split("+"))))
        except ValueError:
            raise fail(
                f"일정 항목 {part!r}은(는) 시점:날짜:도구+도구 꼴이어야 합니다"
                " (예: baseline:0:sgds_k+ucla3)",
                f"schedule entry {part!r} must look like label:day:instrument+instrument"
                " (e.g. baseline:0:sgds_k+ucla3)",
            ) from None
    return specs


@study_app.command("create")
def study_create(
    study_id: str = typer.Option(..., "--id", help="Study id: lowercase letters, digits, - or _."),
    title: str = typer.Option(..., "--title"),
    timezone: str = typer.Option("Asia/Seoul", "--timezone", help="Default local day's zone."),
    min_k: int = typer.Option(5, "--min-k", help="Smallest k any export may use (≥ 5)."),
    arms: str = typer.Option("intervention,control", "--arms", help="Comma-separated arm codes."),
    schedule: str | None = typer.Option(
        None,
        "--schedule",
        help="label:day:instruments, comma-separated (default "
        "baseline:0:sgds_k+ucla3,week4:28:sgds_k+ucla3,week8:56:sgds_k+ucla3).",
    ),
    database_url: str | None = _DB,
) -> None:
    """Create a study with its arms and assessment schedule."""
    from cloud.research.studies import create_study

    if min_k < 5:
        raise fail("--min-k는 5 이상이어야 합니다", "--min-k must be at least 5")
    specs = _parse_schedule(schedule)
    arm_list = [(a.strip(), a.strip().capitalize()) for a in arms.split(",") if a.strip()]
    with _session(database_url) as (session, _):
        study = create_study(
            session,
            CLI,
            _now(),
            study_id=study_id,
            title=title,
            timezone=timezone,
            min_k=min_k,
            arms=arm_list,
            schedule=specs,
        )
        typer.echo(f"created study {study.id!r} ({', '.join(a for a, _ in arm_list)})")


@study_app.command("show")
def study_show(
    study_id: str = typer.Option(..., "--study"), database_url: str | None = _DB
) -> None:
    """Arms, schedule, consent forms and enrolment counts of a study."""
    from collections import Counter

    from sqlalchemy import select

    from cloud.research.studies import arms_of, get_study, schedule_of
    from cloud.store.models import ConsentForm, Participant

    with _session(database_url) as (session, _):
        study = get_study(session, study_id)
        typer.echo(f"{study.id}: {study.title} (timezone {study.timezone}, min k {study.min_k})")
        typer.echo("arms: " + ", ".join(a.code for a in arms_of(session, study_id)))
        for tp in schedule_of(session, study_id):
            typer.echo(
                f"  {tp.label:<10} day {tp.day:>4} ±{tp.window_days}  {', '.join(tp.instruments)}"
            )
        forms = session.scalars(select(ConsentForm).where(ConsentForm.study_id == study_id))
        for f in forms:
            typer.echo(f"consent form {f.version}: {', '.join(f.streams)}")
        counts = Counter(
            (p.arm, p.status.value)
            for p in session.scalars(select(Participant).where(Participant.study_id == study_id))
        )
        for (arm, status), n in sorted(counts.items()):
            typer.echo(f"  {arm:<14} {status:<10} {n}")


@app.command("consent-form")
def consent_form(
    study_id: str = typer.Option(..., "--study"),
    version: str = typer.Option(..., "--version"),
    streams: str = typer.Option(
        "mood,activity,conversation,screening,alerts", "--streams", help="Streams it asks for."
    ),
    summary: str = typer.Option("", "--summary", help="One line on what the form says."),
    database_url: str | None = _DB,
) -> None:
    """Publish a consent form version."""
    from cloud.research.studies import publish_consent_form

    with _session(database_url) as (session, _):
        form = publish_consent_form(
            session,
            CLI,
            _now(),
            study_id=study_id,
            version=version,
            streams=[s.strip() for s in streams.split(",") if s.strip()],
            summary=summary,
        )
        typer.echo(f"consent form {form.version} of {study_id}: {', '.join(form.streams)}")


@app.command("enrol")
def enrol_cmd(
    study_id: str = typer.Option(..., "--study"),
    senior_id: str = typer.Option(..., "--senior"),
    arm: str = typer.Option(..., "--arm"),
    device_id: str | None = typer.Option(None, "--device", help="The senior's robot."),
    birth_year: int | None = typer.Option(None, "--birth-year"),
    sex: str | None = typer.Option(None, "--sex", help="f, m or x."),
    region: str | None = typer.Option(None, "--region", help="e.g. 서울특별시 (시/도 first)."),
    database_url: str | None = _DB,
) -> None:
    """Enrol a senior; prints their pseudonymous code (the only id researchers ever see)."""
    from cloud.research.studies import enrol

    with _session(database_url) as (session, _):
        p = enrol(
            session,
            CLI,
            _now(),
            study_id=study_id,
            senior_id=senior_id,
            arm=arm,
            device_id=device_id,
            birth_year=birth_year,
            sex=sex,
            region=region,
        )
        typer.echo(p.code)


@app.command("consent")
def consent_cmd(
    study_id: str = typer.Option(..., "--study"),
    code: str = typer.Option(..., "--participant", help="Pseudonymous code, e.g. P-7K3QXM."),
    form_version: str = typer.Option(..., "--form"),
    grant: str = typer.Option("", "--grant", help="Streams consented to, comma-separated."),
    deny: str = typer.Option("", "--deny", help="Streams refused or withdrawn."),
    retention: Retention | None = typer.Option(
        None, "--retention", help="On withdrawal: delete (default) or retain the data."
    ),
    database_url: str | None = _DB,
) -> None:
    """Record consent per stream; the robot is told with a `consent` command."""
    from cloud.research.studies import get_participant, set_consent

    streams = {s.strip(): True for s in grant.split(",") if s.strip()}
    streams |= {s.strip(): False for s in deny.split(",") if s.strip()}
    if not streams:
        raise fail("--grant나 --deny를 적으세요", "give --grant and/or --deny")
    with _session(database_url) as (session, settings):
        p = get_participant(session, study_id, code)
        commands = set_consent(
            session,
            CLI,
            _now(),
            participant=p,
            form_version=form_version,
            streams=streams,
            retention=retention,
        )
    sent = _publish(settings, commands)
    typer.echo(f"consent of {code} recorded; {sent}/{len(commands)} robot command(s) sent")


@app.command("withdraw")
def withdraw_cmd(
    study_id: str = typer.Option(..., "--study"),
    code: str = typer.Option(..., "--participant"),
    reason: str = typer.Option("participant request", "--reason"),
    database_url: str | None = _DB,
) -> None:
    """Withdraw: collection stops, data deleted or kept as consented, the robot purges."""
    from cloud.research.studies import get_participant, withdraw

    with _session(database_url) as (session, settings):
        result = withdraw(
            session,
            CLI,
            _now(),
            participant=get_participant(session, study_id, code),
            reason=reason,
        )
    sent = _publish(settings, result.commands)
    kept = "deleted" if result.retention is Retention.DELETE else "retained as consented"
    typer.echo(
        f"{code} withdrawn; data {kept} ({result.assessments_deleted} assessments, "
        f"{result.metric_days_deleted} metric days deleted); "
        f"{sent}/{len(result.commands)} robot command(s) sent"
    )


def _parse_day(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise fail(
            f"{flag}는 2026-03-02 같은 날짜여야 합니다({text!r})",
            f"{flag} must be a date like 2026-03-02, not {text!r}",
        ) from None


@metrics_app.command("recompute")
def metrics_recompute(
    study_id: str = typer.Option(..., "--study"),
    first: str | None = typer.Option(None, "--from", help="First day (default: enrolment)."),
    last: str | None = typer.Option(None, "--to", help="Last day (default: today, so far)."),
    database_url: str | None = _DB,
) -> None:
    """Rebuild every day's metrics in a range (idempotent), one transaction per day."""
    from sqlalchemy import func, select

    from cloud.research.metrics import compute_day
    from cloud.research.studies import get_study
    from cloud.store.models import Participant

    with _session(database_url) as (session, _):
        study = get_study(session, study_id)
        start = session.scalar(
            select(func.min(Participant.enrolled_at)).where(Participant.study_id == study_id)
        )
        tz = study.timezone
    if start is None and first is None:
        typer.echo(f"study {study_id!r} has no participants yet: nothing to compute")
        return
    from zoneinfo import ZoneInfo

    now = _now()
    d0 = _parse_day(first, "--from") if first else start.astimezone(ZoneInfo(tz)).date()  # type: ignore[union-attr]
    d1 = _parse_day(last, "--to") if last else now.astimezone(ZoneInfo(tz)).date()
    if d1 < d0:
        raise fail(f"--to {d1}이(가) --from {d0}보다 앞섭니다", f"--to {d1} is before --from {d0}")
    days = (d1 - d0).days + 1
    total = 0
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task(f"metrics {d0} → {d1}", total=days)
        day = d0
        while day <= d1:
            with _session(database_url) as (session, _):
                total += compute_day(session, study_id, day, now)
            progress.advance(task)
            day += timedelta(days=1)
    typer.echo(f"{total} participant-day rows written for {days} day(s)")


@metrics_app.command("update")
def metrics_update(
    study_id: str = typer.Option(..., "--study"), database_url: str | None = _DB
) -> None:
    """Incremental: recompute only the days touched by events received since the last run."""
    from cloud.research.metrics import update_study

    touched: list[str] = []
    with _session(database_url) as (session, _):
        total = update_study(
            session, study_id, _now(), progress=lambda day, n: touched.append(f"{day} ({n})")
        )
    typer.echo(
        f"{total} rows recomputed over {len(touched)} day(s)"
        + (": " + ", ".join(touched[:10]) + (" …" if len(touched) > 10 else "") if touched else "")
    )


@app.command("import-assessments")
def import_assessments_cmd(
    csv_file: Path = typer.Argument(..., help="CSV (UTF-8): one row per visit, see docs."),
    study_id: str = typer.Option(..., "--study"),
    database_url: str | None = _DB,
) -> None:
    """Import assessments with their visit dates from a CSV file, all or nothing.

    Columns: participant, instrument, visit_date, time_point, item_1..item_15, total,
    total_reason. A bad row refuses the whole file, naming its line and column.
    """
    from cloud.accounts.audit import audit
    from cloud.research.bulk_import import MAX_BYTES, ImportRefused, import_assessments_csv

    try:
        with csv_file.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as e:
        raise fail(
            f"파일 {csv_file}을(를) 읽을 수 없습니다", f"cannot read {csv_file}: {e.strerror}", 1
        ) from None
    now = _now()
    refused: ImportRefused | None = None
    with _session(database_url) as (session, _):
        try:
            result = import_assessments_csv(session, study_id, data, now=now)
        except ImportRefused as e:  # refused before anything was added: nothing to undo
            refused = e
        else:
            audit(
                session,
                CLI,
                "import",
                "assessment",
                now,
                resource_id=study_id,
                detail=f"{csv_file.name}: rows={result.rows} total_only={result.total_only}",
            )
    if refused is not None:
        typer.echo(error_line("가져오지 않았습니다(저장된 것 없음)", "nothing imported:"), err=True)
        for problem in refused.errors:
            typer.echo(f"  {problem}", err=True)
        raise typer.Exit(1)
    per = ", ".join(f"{k} {v}" for k, v in sorted(result.by_instrument.items()))
    typer.echo(
        f"{result.rows}건 가져옴 / imported {result.rows} assessment(s) ({per});"
        f" total only: {result.total_only}"
    )


@app.command("export")
def export_cmd(
    study_id: str = typer.Option(..., "--study"),
    fmt: str = typer.Option("csv", "--format", help="csv or parquet."),
    k: int = typer.Option(5, "--k", help="k-anonymity over age band, sex, region (≥ 5)."),
    out: Path | None = typer.Option(None, "--out", help="Folder (default ./export-STUDY-TIME)."),
    database_url: str | None = _DB,
) -> None:
    """De-identified export with its data dictionary and disclosure report (refuses, with the
    reason, when k cannot be met)."""
    from cloud.accounts.audit import audit
    from cloud.research.deid import DeidError, KAnonymityError
    from cloud.research.export import build_export, write_export

    if fmt not in ("csv", "parquet"):
        raise fail(
            f"--format은 csv나 parquet이어야 합니다({fmt!r})",
            f"--format must be csv or parquet, not {fmt!r}",
        )
    now = _now()
    target = out or Path(f"export-{study_id}-{now:%Y%m%dT%H%M%SZ}")
    if target.exists() and any(target.iterdir()):
        raise fail(
            f"{target}이(가) 이미 있고 비어 있지 않습니다. 다른 --out을 고르세요",
            f"{target} exists and is not empty; choose another --out",
        )
    refused: str | None = None
    with _session(database_url) as (session, _):
        try:
            bundle = build_export(
                session, study_id, now, k=k, progress=lambda step: typer.echo(f"… {step}", err=True)
            )
        except KAnonymityError as e:
            refused = str(e)
        except DeidError as e:
            raise fail_with(e, "내보내기를 만들 수 없습니다") from None
    with _session(database_url) as (session, _):
        audit(
            session,
            CLI,
            "export_refused" if refused else "export",
            "study",
            now,
            resource_id=study_id,
            detail=refused or f"format={fmt} k={k} out={target}",
        )
    if refused is not None:
        typer.echo(
            error_of(
                refused, "k-익명성을 맞출 수 없습니다", label=("내보내기 거절", "export refused")
            ),
            err=True,
        )
        raise typer.Exit(1)
    write_export(bundle, target, fmt)  # type: ignore[arg-type]
    d = bundle.disclosure
    typer.echo(
        f"exported {d.subjects_out} participants ({d.subjects_suppressed} suppressed), "
        f"k achieved {d.k_achieved}, generalised: "
        + ", ".join(f"{q} → {lv}" for q, lv in d.generalised.items())
    )
    typer.echo(f"written to {target}/ (data dictionary and disclosure report beside the data)")


@app.command("report")
def report_cmd(
    study_id: str = typer.Option(..., "--study"),
    out: Path | None = typer.Option(None, "--out", help="HTML file (default STUDY-report.html)."),
    database_url: str | None = _DB,
) -> None:
    """The study report: enrolment flow, trajectories, effect sizes, daily-metric trends."""
    from cloud.accounts.audit import audit
    from cloud.research.reporting import build_report

    now = _now()
    target = out or Path(f"{study_id}-report.html")
    typer.echo("… statistics and plots", err=True)
    with _session(database_url) as (session, _):
        html = build_report(session, study_id, now)
        audit(session, CLI, "report", "study", now, resource_id=study_id, detail=str(target))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(target.suffix + ".tmp")
    tmp.write_text(html, "utf-8")
    tmp.replace(target)
    typer.echo(f"report written to {target} ({len(html) // 1024} KiB)")
