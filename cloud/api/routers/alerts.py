"""/alerts: list, read, acknowledge and resolve alerts (caregivers: their seniors' only)."""

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from cloud.accounts.access import (
    Principal,
    alert_senior_column,
    senior_filter,
    visible_seniors,
)
from cloud.accounts.audit import audit, audit_reads
from cloud.accounts.errors import InvalidInputError
from cloud.alerts import lifecycle
from cloud.api.deps import CARE_ROLES, Caller, Ctx, roles
from cloud.api.schemas import (
    AckIn,
    AckOut,
    AlertDetail,
    AlertOut,
    AlertPage,
    DeliveryOut,
    ResolveIn,
)
from cloud.errors import AlertNotFoundError, CloudError, both
from cloud.store.models import Alert, AlertKind, AlertStatus, Delivery, Device
from protocol import Command, CommandType

log = logging.getLogger(__name__)
router = APIRouter(prefix="/alerts", tags=["alerts"], dependencies=[Depends(roles(*CARE_ROLES))])


def _scoped(session: Session, caller: Principal) -> Select[Alert, str | None]:
    """Alerts with their senior, limited to the seniors the caller may see."""
    senior = alert_senior_column()
    return (
        select(Alert, senior)
        .outerjoin(Device, Device.id == Alert.device_id)
        .where(senior_filter(senior, visible_seniors(session, caller)))
    )


def _out(alert: Alert, senior_id: str | None) -> AlertOut:
    out = AlertOut.model_validate(alert)
    return out.model_copy(update={"senior_id": senior_id})


def _load(
    session: Session, caller: Principal, alert_id: int, *, lock: bool = False
) -> tuple[Alert, str | None]:
    """The alert if the caller may see it; the same 404 whether it is missing or someone else's."""
    query = _scoped(session, caller).where(Alert.id == alert_id)
    if lock:
        query = query.with_for_update(of=Alert)
    row = session.execute(query).one_or_none()
    if row is None:
        raise AlertNotFoundError(
            both(f"id가 {alert_id}인 알림이 없습니다", f"no alert with id {alert_id}")
        )
    return row[0], row[1]


def _actor(caller: Principal, given: str | None) -> str:
    """An account acts under its own name; the service token must say who it acts for."""
    if caller.account_id is not None:
        return caller.display_name
    if given is None:
        raise InvalidInputError(
            both(
                "서비스 토큰을 쓸 때는 꼭 적어야 합니다",
                "required when using the service token",
                at="body.by",
            )
        )
    return given


@router.get("")
def list_alerts(
    ctx: Ctx,
    caller: Caller,
    status: AlertStatus | None = None,
    kind: AlertKind | None = None,
    senior_id: str | None = None,
    device_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> AlertPage:
    """Alerts newest first, filtered by status, kind, senior and/or device."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        query = _scoped(session, caller)
        if status is not None:
            query = query.where(Alert.status == status)
        if kind is not None:
            query = query.where(Alert.kind == kind)
        if senior_id is not None:
            query = query.where(alert_senior_column() == senior_id)
        if device_id is not None:
            query = query.where(Alert.device_id == device_id)
        total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
        rows = session.execute(
            query.order_by(Alert.created_at.desc(), Alert.id.desc()).limit(limit).offset(offset)
        ).all()
        audit_reads(session, caller, "alert", [s for _, s in rows], now)
        items = [_out(a, s) for a, s in rows]
    return AlertPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{alert_id}")
def get_alert(ctx: Ctx, caller: Caller, alert_id: int) -> AlertDetail:
    """One alert with its audit trail and deliveries."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        alert, senior_id = _load(session, caller, alert_id)
        deliveries = session.scalars(
            select(Delivery).where(Delivery.alert_id == alert_id).order_by(Delivery.id)
        )
        audit(session, caller, "read", "alert", now, resource_id=alert_id, senior_id=senior_id)
        return AlertDetail.model_validate(
            {
                **_out(alert, senior_id).model_dump(),
                "transitions": alert.transitions,
                "deliveries": [DeliveryOut.model_validate(d) for d in deliveries],
            }
        )


@router.post("/{alert_id}/ack")
def acknowledge(ctx: Ctx, caller: Caller, alert_id: int, body: AckIn | None = None) -> AckOut:
    """Acknowledge an alert and tell the robot, so it can say help is coming."""
    now = ctx.clock()
    by = _actor(caller, body.by if body is not None else None)
    with ctx.sessions() as session, session.begin():
        alert, senior_id = _load(session, caller, alert_id, lock=True)
        lifecycle.acknowledge(session, alert, by, "api", now)
        audit(session, caller, "ack", "alert", now, resource_id=alert_id, senior_id=senior_id)
        out = _out(alert, senior_id)
    command = Command(
        command_id=uuid.uuid4().hex,
        device_id=out.device_id,
        ts=now,
        type=CommandType.ALERT_ACK,
        payload={"alert_id": out.id, "kind": out.kind.value, "by": by},
    )
    published = False
    if ctx.publisher is not None:
        try:
            ctx.publisher.publish_command(out.device_id, command)
            published = True
        except CloudError as e:
            log.error("alert %d acknowledged but the robot was not told: %s", alert_id, e)
    return AckOut(alert=out, command_id=command.command_id, command_published=published)


@router.post("/{alert_id}/resolve")
def resolve(ctx: Ctx, caller: Caller, alert_id: int, body: ResolveIn) -> AlertOut:
    """Close an alert with a note saying how it ended."""
    now = ctx.clock()
    by = _actor(caller, body.by)
    with ctx.sessions() as session, session.begin():
        alert, senior_id = _load(session, caller, alert_id, lock=True)
        lifecycle.resolve(session, alert, by, body.note, now)
        audit(session, caller, "resolve", "alert", now, resource_id=alert_id, senior_id=senior_id)
        return _out(alert, senior_id)
