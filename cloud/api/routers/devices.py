"""GET /devices: the robots the cloud has heard from."""

from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import func, select

from cloud.api.deps import Authorized, Ctx
from cloud.api.schemas import DeviceOut, DevicePage
from cloud.store.models import Device

router = APIRouter(prefix="/devices", tags=["devices"], dependencies=[Authorized])


@router.get("")
def list_devices(
    ctx: Ctx,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> DevicePage:
    """Devices by id, with online status and the last heartbeat summary."""
    with ctx.sessions() as session:
        total = session.scalar(select(func.count()).select_from(Device)) or 0
        rows = session.scalars(select(Device).order_by(Device.id).limit(limit).offset(offset))
        items = [DeviceOut.model_validate(d) for d in rows]
    return DevicePage(items=items, total=total, limit=limit, offset=offset)
