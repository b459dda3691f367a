"""GET /alerts, GET /alerts/{id}, POST /alerts/{id}/ack."""

import logging
import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from cloud.api.deps import Authorized, Ctx
from cloud.api.schemas import AckIn, AckOut, AlertDetail, AlertOut, AlertPage, DeliveryOut
from cloud.errors import AlertNotFoundError, CloudError
from cloud.store.models import Alert, AlertStatus, Delivery
from protocol import Command, CommandType

log = logging.getLogger(__name__)
router = APIRouter(prefix="/alerts", tags=["alerts"], dependencies=[Authorized])


@router.get("")
def list_alerts(
    ctx: Ctx,
    status: AlertStatus | None = None,
    device_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> AlertPage:
    """Alerts newest first, filtered by status and/or device."""
    where = []
    if status is not None:
        where.append(Alert.status == status)
    if device_id is not None:
        where.append(Alert.device_id == device_id)
    with ctx.sessions() as session:
        total = session.scalar(select(func.count()).select_from(Alert).where(*where)) or 0
        rows = session.scalars(
            select(Alert)
            .where(*where)
            .order_by(Alert.created_at.desc(), Alert.id.desc())
            .limit(limit)
            .offset(offset)
        )
        items = [AlertOut.model_validate(a) for a in rows]
    return AlertPage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{alert_id}")
def get_alert(ctx: Ctx, alert_id: int) -> AlertDetail:
    """One alert with its audit trail and deliveries."""
    with ctx.sessions() as session:
        alert = session.get(Alert, alert_id)
        if alert is None:
            raise AlertNotFoundError(f"no alert with id {alert_id}")
        deliveries = session.scalars(
            select(Delivery).where(Delivery.alert_id == alert_id).order_by(Delivery.id)
        )
        return AlertDetail.model_validate(
            {
                **AlertOut.model_validate(alert).model_dump(),
                "transitions": alert.transitions,
                "deliveries": [DeliveryOut.model_validate(d) for d in deliveries],
            }
        )


@router.post("/{alert_id}/ack")
def acknowledge(ctx: Ctx, alert_id: int, body: AckIn) -> AckOut:
    """Acknowledge an alert and tell the robot, so it can say help is coming."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        alert = ctx.alerts.acknowledge(session, alert_id, body.by, now)
        out = AlertOut.model_validate(alert)
    command = Command(
        command_id=uuid.uuid4().hex,
        device_id=out.device_id,
        ts=now,
        type=CommandType.ALERT_ACK,
        payload={"alert_id": out.id, "kind": out.kind.value, "by": body.by},
    )
    published = False
    if ctx.publisher is not None:
        try:
            ctx.publisher.publish_command(out.device_id, command)
            published = True
        except CloudError as e:
            log.error("alert %d acknowledged but the robot was not told: %s", alert_id, e)
    return AckOut(alert=out, command_id=command.command_id, command_published=published)
