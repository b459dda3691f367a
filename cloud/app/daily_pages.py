"""/app/board/daily: the organisation's daily report of one past day (default yesterday), as a
printable page and as CSV; for staff of an organisation (their organisation's seniors) and
platform admins, audited like the board."""

import csv
import io
from dataclasses import dataclass
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.access import Principal, senior_filter, staff_of, visible_seniors
from cloud.accounts.audit import audit
from cloud.app.daily import (
    SEVERITIES,
    DayError,
    DayRow,
    ReportSenior,
    bounds,
    daily_rows,
    parse_day,
    report_zone,
    zone_of,
)
from cloud.app.pages import _caller, _cell, _Denied, _deny, _login_redirect, _workers
from cloud.app.status import among
from cloud.app.web import PREFIX, context, render, secure_response, signed_in
from cloud.store.models import (
    Organisation,
    OrganisationRegion,
    OrganisationSenior,
    Role,
    Senior,
)

router = APIRouter(prefix=f"{PREFIX}/board", include_in_schema=False)

Day = Annotated[str | None, Query(max_length=32)]
Region = Annotated[str | None, Query(max_length=64)]
Worker = Annotated[str | None, Query(max_length=100)]
Org = Annotated[str | None, Query(max_length=64)]


@dataclass(frozen=True, slots=True)
class _Report:
    principal: Principal
    day: date
    zone: str
    rows: list[DayRow]
    org_name: str
    worker_name: str


def _seniors(
    session: Session, principal: Principal, org: str | None, region: str | None
) -> tuple[list[ReportSenior], list[str], str]:
    """The report's seniors (the caller's organisation's; any for a platform admin), their
    zones, and the organisation's name; _Denied (403) for anyone not on a staff."""
    membership = staff_of(session, principal)
    if principal.role is not Role.ADMIN:
        if membership is None:
            raise _Denied(403, "staff_only")
        org = membership.organisation_id  # staff: their own organisation, whatever was asked
    visible = visible_seniors(session, principal)
    where = (
        senior_filter(Senior.id, visible)
        if visible is None or not visible
        else among(session, Senior.id, sorted(visible))
    )
    query = (
        select(Senior.id, Senior.display_name, Senior.timezone, OrganisationRegion.name)
        .outerjoin(OrganisationSenior, OrganisationSenior.senior_id == Senior.id)
        .outerjoin(OrganisationRegion, OrganisationRegion.id == OrganisationSenior.region_id)
        .where(where)
        .order_by(Senior.display_name, Senior.id)
    )
    if org:
        query = query.where(OrganisationSenior.organisation_id == org)
    if region:
        query = query.where(OrganisationRegion.name == region)
    found = session.execute(query).all()
    name = session.scalar(select(Organisation.name).where(Organisation.id == org)) if org else ""
    seniors = [ReportSenior(i, n, r) for i, n, _, r in found]
    return seniors, [z for _, _, z, _ in found], name or ""


def _report(
    request: Request, day_text: str | None, region: str | None, worker: str | None, org: str | None
) -> _Report | None:
    principal = _caller(request)
    if principal is None:
        return None
    ctx = context(request)
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        seniors, zones, org_name = _seniors(session, principal, org, region)
        worker_name = ""
        if worker and seniors:
            workers = _workers(
                session, staff_of(session, principal), [s.senior_id for s in seniors]
            )
            worker_name, linked = workers.get(worker, ("", set()))
            seniors = [s for s in seniors if s.senior_id in linked]
        zone = report_zone(zones)
        try:
            day = parse_day(day_text, now, zone_of(zone))
        except DayError as e:
            raise _Denied(422, e.key) from None
        start, end = bounds(day, zone_of(zone))
        rows = daily_rows(session, seniors, start, end)
        audit(
            session,
            principal,
            "read",
            "daily_report",
            now,
            detail=f"app: {day.isoformat()} {zone} {len(rows)} seniors",
        )
    return _Report(principal, day, zone, rows, org_name, worker_name)


def _report_or_refusal(
    request: Request, day: Day, region: Region, worker: Worker, org: Org
) -> _Report | Response:
    """The report, or the response that refuses it (not signed in, or not allowed)."""
    try:
        found = _report(request, day, region, worker, org)
    except _Denied as denied:
        return _deny(request, signed_in(request), denied)
    return _login_redirect(request) if found is None else found


def _query(day: date, region: str | None, worker: str | None, org: str | None) -> str:
    pairs = (("day", day.isoformat()), ("org", org), ("region", region), ("worker", worker))
    return urlencode({k: v for k, v in pairs if v})


@router.get("/daily")
def daily_page(
    request: Request, day: Day = None, region: Region = None, worker: Worker = None, org: Org = None
) -> Response:
    """The day's report as a printable page, with a day picker."""
    found = _report_or_refusal(request, day, region, worker, org)
    if isinstance(found, Response):
        return found
    values = {
        "r": found,
        "severities": [s.value for s in SEVERITIES],
        "region": region or "",
        "worker": worker or "",
        "org": org or "",
        "query": _query(found.day, region, worker, org),
    }
    return render(request, "daily.html.j2", values, principal=found.principal)


_HEADER = [
    "day",
    "time_zone",
    "senior_id",
    "name",
    "region",
    "alerts_opened",
    *[f"alerts_{s.value}" for s in SEVERITIES],
    "acknowledged",
    "slowest_ack_min",
    "resolved",
    "last_resolved_utc",
    "cancelled_or_expired",
    "still_open",
    "sign_of_life",
    "last_life_sign_utc",
    "robots",
    "robot_online_share",
    "medication_taken",
    "medication_missed",
    "mood_mean_valence",
    "mood_summaries",
    "screenings",
]


@router.get("/daily.csv")
def daily_csv(
    request: Request, day: Day = None, region: Region = None, worker: Worker = None, org: Org = None
) -> Response:
    """The day's report as CSV (UTF-8 with BOM, cells never read as formulas)."""
    found = _report_or_refusal(request, day, region, worker, org)
    if isinstance(found, Response):
        return found
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(_HEADER)
    for r in found.rows:
        writer.writerow(
            [
                _cell(v)
                for v in (
                    found.day.isoformat(),
                    found.zone,
                    r.senior.senior_id,
                    r.senior.display_name,
                    r.senior.region or "",
                    r.alerts_opened,
                    *[r.opened.get(s.value, 0) for s in SEVERITIES],
                    r.acknowledged,
                    "" if r.slowest_ack_min is None else r.slowest_ack_min,
                    r.resolved,
                    r.last_closed_at.isoformat() if r.last_closed_at else "",
                    r.closed_other,
                    r.still_open,
                    int(r.life_sign),
                    r.last_life_sign.isoformat() if r.last_life_sign else "",
                    r.robots,
                    "" if r.online_share is None else f"{r.online_share:.2f}",
                    r.medication_taken,
                    r.medication_missed,
                    "" if r.mood_mean is None else f"{r.mood_mean:.2f}",
                    r.mood_n,
                    " ".join(f"{name}:{score:g}" for name, score in r.screenings),
                )
            ]
        )
    name = f"dolbom-daily-{found.day.isoformat()}.csv"
    response = Response(
        "\ufeff" + out.getvalue(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
    return secure_response(response, context(request))
