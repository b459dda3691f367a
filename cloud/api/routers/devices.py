"""/devices: robots and their health; installers and admins register them to seniors."""

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cloud.accounts.access import (
    Principal,
    assign_device,
    get_senior,
    senior_filter,
    visible_seniors,
)
from cloud.accounts.audit import audit, audit_reads
from cloud.accounts.errors import NotFoundError
from cloud.api.deps import Caller, Ctx, roles
from cloud.api.schemas import DeviceHealthOut, DevicePage, DeviceRegisterIn, SelfTestOut
from cloud.errors import both
from cloud.store.models import Device, HeartbeatHour, Role

router = APIRouter(prefix="/devices", tags=["devices"], dependencies=[Depends(roles(*Role))])
Installers = [Depends(roles(Role.ADMIN, Role.INSTALLER))]
_FLEET_ROLES = (Role.ADMIN, Role.INSTALLER, Role.RESEARCHER)


def _health(device: Device, caller: Principal, heartbeat: dict[str, Any] | None) -> DeviceHealthOut:
    summary = device.last_heartbeat or {}
    if heartbeat is not None:
        tests = [SelfTestOut.model_validate(t) for t in heartbeat.get("self_tests", [])]
    else:
        tests = [SelfTestOut(name=n, ok=False) for n in summary.get("failed_self_tests", [])]
    return DeviceHealthOut.model_validate(
        {
            "id": device.id,
            "first_seen": device.first_seen,
            "last_seen": device.last_seen,
            "online": device.online,
            "last_status_at": device.last_status_at,
            "last_heartbeat_at": device.last_heartbeat_at,
            "last_heartbeat": device.last_heartbeat,
            # Researchers see the fleet, never whose robot it is.
            "senior_id": None if caller.role is Role.RESEARCHER else device.senior_id,
            "uptime_s": summary.get("uptime_s"),
            "agent_version": summary.get("agent_version"),
            "outbox_pending": summary.get("outbox_pending"),
            "self_tests": tests,
        }
    )


def _visible(session: Session, caller: Principal) -> frozenset[str] | None:
    return None if caller.role in _FLEET_ROLES else visible_seniors(session, caller)


@router.get("")
def list_devices(
    ctx: Ctx,
    caller: Caller,
    senior_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000)] = 0,
) -> DevicePage:
    """Robots by id with online state and the last heartbeat (caregivers: their seniors' only)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        where = [senior_filter(Device.senior_id, _visible(session, caller))]
        if senior_id is not None and caller.role is not Role.RESEARCHER:
            where.append(Device.senior_id == senior_id)
        total = session.scalar(select(func.count()).select_from(Device).where(*where)) or 0
        rows = list(
            session.scalars(
                select(Device).where(*where).order_by(Device.id).limit(limit).offset(offset)
            )
        )
        audit_reads(session, caller, "device", [d.senior_id for d in rows], now)
        items = [_health(d, caller, None) for d in rows]
    return DevicePage(items=items, total=total, limit=limit, offset=offset)


@router.get("/{device_id}")
def device_health(ctx: Ctx, caller: Caller, device_id: str) -> DeviceHealthOut:
    """One robot's health: online, last heartbeat, every self-test, outbox backlog."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        visible = _visible(session, caller)
        device = session.get(Device, device_id)
        if device is None or (
            visible is not None and (device.senior_id is None or device.senior_id not in visible)
        ):
            raise NotFoundError(
                both(f"id가 {device_id!r}인 로봇이 없습니다", f"no device with id {device_id!r}")
            )
        # The latest heartbeat's payload, from its hour's roll-up (cloud/ingest/rollup.py).
        heartbeat = session.scalars(
            select(HeartbeatHour.last_payload)
            .where(HeartbeatHour.device_id == device_id)
            .order_by(HeartbeatHour.hour.desc())
            .limit(1)
        ).first()
        audit(
            session,
            caller,
            "read",
            "device",
            now,
            resource_id=device_id,
            senior_id=device.senior_id,
        )
        return _health(device, caller, heartbeat)


@router.post("", status_code=201, dependencies=Installers)
def register_device(ctx: Ctx, caller: Caller, body: DeviceRegisterIn) -> DeviceHealthOut:
    """Register a robot to a senior: a new id is added, a known one reassigned."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        # Installers may name any senior (they install for the agency), admins too.
        get_senior(session, Principal(Role.ADMIN, None, "", ""), body.senior_id)
        device = session.get(Device, body.id)
        before = device.senior_id if device is not None else None
        if device is None:
            device = Device(id=body.id, first_seen=now, last_seen=now, online=False)
            session.add(device)
        device.senior_id = body.senior_id
        session.flush()
        if before != body.senior_id:
            assign_device(session, body.id, body.senior_id, now, previous=before)
        audit(
            session,
            caller,
            "register",
            "device",
            now,
            resource_id=body.id,
            senior_id=body.senior_id,
            detail=f"was {before}" if before and before != body.senior_id else None,
        )
        return _health(device, caller, None)
