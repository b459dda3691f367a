"""/organisations: care agencies and municipal care centres with their regions, staff and
seniors (issue 15).

A platform admin creates organisations and assigns seniors to them. An organisation's admin
(a staff member with `is_admin`) manages its staff, its regions, its seniors' regions and
its workers' caseloads. Every staff member sees every senior of their organisation
(`cloud.accounts.access.visible_seniors`); another organisation is a 404, as a missing one.
"""

from typing import Annotated

from fastapi import APIRouter, Depends, Path
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from cloud.accounts.access import Principal, staff_of
from cloud.accounts.audit import audit, audit_reads
from cloud.accounts.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from cloud.api.context import ApiContext
from cloud.api.deps import CARE_ROLES, Caller, Ctx, roles
from cloud.api.schemas import ID_PATTERN
from cloud.api.schemas_orgs import (
    USERNAME,
    OrganisationDetail,
    OrganisationIn,
    OrganisationOut,
    OrgSeniorIn,
    OrgSeniorOut,
    RegionIn,
    RegionOut,
    StaffIn,
    StaffOut,
)
from cloud.errors import both
from cloud.store.models import (
    Account,
    CaregiverLink,
    Organisation,
    OrganisationRegion,
    OrganisationSenior,
    OrganisationStaff,
    Role,
    Senior,
)

router = APIRouter(
    prefix="/organisations", tags=["organisations"], dependencies=[Depends(roles(*CARE_ROLES))]
)
AdminOnly = [Depends(roles(Role.ADMIN))]
OrgId = Annotated[str, Path(pattern=ID_PATTERN)]
SeniorId = Annotated[str, Path(max_length=64)]
Username = Annotated[str, Path(pattern=USERNAME)]

WORKER_RELATION = "worker"
"""The relation of a caseload link made through an organisation."""

_MANAGE = both(
    "조직 관리자만 할 수 있습니다",
    "only an admin of the organisation may change its staff, regions and seniors",
)
_SELF = both(
    "자신의 관리자 권한은 바꾸거나 없앨 수 없습니다",
    "you cannot remove yourself or your own admin right: ask another admin of the organisation",
)


def _no_org(org_id: str) -> NotFoundError:
    return NotFoundError(both("조직이 없습니다", f"no organisation with id {org_id!r}"))


def _no_senior(senior_id: str) -> NotFoundError:
    return NotFoundError(both("어르신이 없습니다", f"no senior with id {senior_id!r}"))


def _no_caregiver(username: str) -> InvalidInputError:
    return InvalidInputError(
        both(
            f"돌봄 계정 {username!r}이(가) 없습니다",
            f"no active caregiver account named {username!r}",
        )
    )


def organisation_for(
    session: Session, caller: Principal, org_id: str, *, manage: bool = False
) -> Organisation:
    """The organisation if the caller is a platform admin or works for it (NotFoundError
    otherwise, as for a missing one); `manage`: ForbiddenError unless an admin of it."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise _no_org(org_id)
    if caller.role is Role.ADMIN:
        return org
    membership = staff_of(session, caller)
    if membership is None or membership.organisation_id != org_id:
        raise _no_org(org_id)
    if manage and not membership.is_admin:
        raise ForbiddenError(_MANAGE)
    return org


def _region_counts(session: Session, org_id: str) -> list[RegionOut]:
    rows = session.execute(
        select(
            OrganisationRegion.id, OrganisationRegion.name, func.count(OrganisationSenior.senior_id)
        )
        .outerjoin(OrganisationSenior, OrganisationSenior.region_id == OrganisationRegion.id)
        .where(OrganisationRegion.organisation_id == org_id)
        .group_by(OrganisationRegion.id, OrganisationRegion.name)
        .order_by(OrganisationRegion.name)
    )
    return [RegionOut(id=i, name=n, seniors=c) for i, n, c in rows]


def _staff(session: Session, org_id: str) -> list[StaffOut]:
    rows = session.execute(
        select(Account, OrganisationStaff)
        .join(OrganisationStaff, OrganisationStaff.account_id == Account.id)
        .where(OrganisationStaff.organisation_id == org_id)
        .order_by(Account.username)
    )
    return [
        StaffOut(
            account_id=a.id,
            username=a.username,
            display_name=a.display_name,
            is_admin=m.is_admin,
            added_at=m.added_at,
        )
        for a, m in rows
    ]


def _out(org: Organisation) -> OrganisationOut:
    return OrganisationOut(id=org.id, name=org.name, created_at=org.created_at)


# --- organisations ------------------------------------------------------------------------------


@router.get("")
def list_organisations(ctx: Ctx, caller: Caller) -> list[OrganisationOut]:
    """Every organisation (platform admin), the caller's own (staff), or none."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        query = select(Organisation).order_by(Organisation.id)
        if caller.role is not Role.ADMIN:
            membership = staff_of(session, caller)
            if membership is None:
                return []
            query = query.where(Organisation.id == membership.organisation_id)
        orgs = list(session.scalars(query))
        audit(session, caller, "read", "organisation", now, detail=f"{len(orgs)} organisations")
        return [_out(o) for o in orgs]


@router.post("", status_code=201, dependencies=AdminOnly)
def create_organisation(ctx: Ctx, caller: Caller, body: OrganisationIn) -> OrganisationOut:
    """Add an organisation (platform admin)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        if session.get(Organisation, body.id) is not None:
            raise ConflictError(
                both("조직이 이미 있습니다", f"an organisation with id {body.id!r} exists")
            )
        org = Organisation(id=body.id, name=body.name, created_at=now)
        session.add(org)
        audit(session, caller, "create", "organisation", now, resource_id=org.id)
        return _out(org)


def organisation_detail(ctx: ApiContext, caller: Principal, org_id: str) -> OrganisationDetail:
    """An organisation with its regions, staff and number of seniors (audited)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        org = organisation_for(session, caller, org_id)
        seniors = session.scalar(
            select(func.count())
            .select_from(OrganisationSenior)
            .where(OrganisationSenior.organisation_id == org_id)
        )
        audit(session, caller, "read", "organisation", now, resource_id=org_id)
        return OrganisationDetail(
            **_out(org).model_dump(),
            regions=_region_counts(session, org_id),
            staff=_staff(session, org_id),
            seniors=seniors or 0,
        )


@router.get("/{org_id}")
def read_organisation(ctx: Ctx, caller: Caller, org_id: OrgId) -> OrganisationDetail:
    """An organisation the caller works for (or any, for a platform admin)."""
    return organisation_detail(ctx, caller, org_id)


# --- staff --------------------------------------------------------------------------------------


def set_staff(
    ctx: ApiContext, caller: Principal, org_id: str, username: str, body: StaffIn
) -> StaffOut:
    """Add a caregiver account to the organisation's staff, or change their admin right."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        organisation_for(session, caller, org_id, manage=True)
        account = session.scalars(select(Account).where(Account.username == username)).first()
        if account is None or account.role is not Role.CAREGIVER or account.disabled:
            raise _no_caregiver(username)
        if account.id == caller.account_id and not body.is_admin:
            raise ConflictError(_SELF)
        membership = session.get(OrganisationStaff, account.id)
        if membership is not None and membership.organisation_id != org_id:
            raise ConflictError(
                both(
                    f"{username!r}은(는) 다른 조직의 직원입니다",
                    f"{username!r} works for another organisation: they must leave it first",
                )
            )
        action = "update" if membership is not None else "add"
        if membership is None:
            membership = OrganisationStaff(
                account_id=account.id, organisation_id=org_id, is_admin=body.is_admin, added_at=now
            )
            session.add(membership)
        membership.is_admin = body.is_admin
        audit(
            session,
            caller,
            action,
            "organisation_staff",
            now,
            resource_id=account.id,
            detail=f"{org_id}: {'admin' if body.is_admin else 'staff'}",
        )
        return StaffOut(
            account_id=account.id,
            username=account.username,
            display_name=account.display_name,
            is_admin=membership.is_admin,
            added_at=membership.added_at,
        )


def remove_staff(ctx: ApiContext, caller: Principal, org_id: str, username: str) -> None:
    """Take an account off the organisation's staff: they stop seeing its seniors, and their
    links to its seniors (their caseload) end with it."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        organisation_for(session, caller, org_id, manage=True)
        account = session.scalars(select(Account).where(Account.username == username)).first()
        membership = session.get(OrganisationStaff, account.id) if account is not None else None
        if account is None or membership is None or membership.organisation_id != org_id:
            raise NotFoundError(
                both("조직의 직원이 아닙니다", f"{username!r} is not on the staff of {org_id!r}")
            )
        if account.id == caller.account_id:
            raise ConflictError(_SELF)
        session.delete(membership)
        ended = session.execute(
            delete(CaregiverLink).where(
                CaregiverLink.account_id == account.id,
                CaregiverLink.senior_id.in_(
                    select(OrganisationSenior.senior_id).where(
                        OrganisationSenior.organisation_id == org_id
                    )
                ),
            )
        )
        audit(
            session,
            caller,
            "remove",
            "organisation_staff",
            now,
            resource_id=account.id,
            detail=f"{org_id}: {ended.rowcount} caseload links ended",  # type: ignore[attr-defined]
        )


@router.put("/{org_id}/staff/{username}")
def put_staff(
    ctx: Ctx, caller: Caller, org_id: OrgId, username: Username, body: StaffIn
) -> StaffOut:
    """Add a caregiver account to the staff, or change their admin right (organisation admin)."""
    return set_staff(ctx, caller, org_id, username, body)


@router.delete("/{org_id}/staff/{username}", status_code=204)
def delete_staff(ctx: Ctx, caller: Caller, org_id: OrgId, username: Username) -> None:
    """Take an account off the staff (organisation admin); their caseload links end."""
    remove_staff(ctx, caller, org_id, username)


# --- regions ------------------------------------------------------------------------------------


def add_region(ctx: ApiContext, caller: Principal, org_id: str, body: RegionIn) -> RegionOut:
    """Add a region to the organisation (organisation admin)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        organisation_for(session, caller, org_id, manage=True)
        exists = session.scalar(
            select(OrganisationRegion.id).where(
                OrganisationRegion.organisation_id == org_id, OrganisationRegion.name == body.name
            )
        )
        if exists is not None:
            raise ConflictError(both("지역이 이미 있습니다", f"the region {body.name!r} exists"))
        region = OrganisationRegion(organisation_id=org_id, name=body.name)
        session.add(region)
        session.flush()
        audit(
            session,
            caller,
            "create",
            "organisation_region",
            now,
            resource_id=region.id,
            detail=org_id,
        )
        return RegionOut(id=region.id, name=region.name, seniors=0)


def remove_region(ctx: ApiContext, caller: Principal, org_id: str, region_id: int) -> None:
    """Remove an empty region (organisation admin)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        organisation_for(session, caller, org_id, manage=True)
        region = session.get(OrganisationRegion, region_id)
        if region is None or region.organisation_id != org_id:
            raise NotFoundError(both("지역이 없습니다", f"no region {region_id} in {org_id!r}"))
        used = session.scalar(
            select(func.count())
            .select_from(OrganisationSenior)
            .where(OrganisationSenior.region_id == region_id)
        )
        if used:
            raise ConflictError(
                both(
                    f"지역에 어르신 {used}명이 있습니다. 먼저 옮기세요",
                    f"{used} senior(s) are in this region: move them first",
                )
            )
        session.delete(region)
        audit(
            session,
            caller,
            "delete",
            "organisation_region",
            now,
            resource_id=region_id,
            detail=org_id,
        )


@router.post("/{org_id}/regions", status_code=201)
def post_region(ctx: Ctx, caller: Caller, org_id: OrgId, body: RegionIn) -> RegionOut:
    """Add a region (organisation admin)."""
    return add_region(ctx, caller, org_id, body)


@router.delete("/{org_id}/regions/{region_id}", status_code=204)
def delete_region(
    ctx: Ctx, caller: Caller, org_id: OrgId, region_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> None:
    """Remove a region no senior is in (organisation admin)."""
    remove_region(ctx, caller, org_id, region_id)


# --- seniors ------------------------------------------------------------------------------------


def _senior_out(session: Session, senior: Senior, row: OrganisationSenior) -> OrgSeniorOut:
    region = session.get(OrganisationRegion, row.region_id) if row.region_id else None
    workers = session.scalars(
        select(Account.username)
        .join(CaregiverLink, CaregiverLink.account_id == Account.id)
        .join(OrganisationStaff, OrganisationStaff.account_id == Account.id)
        .where(
            CaregiverLink.senior_id == senior.id,
            OrganisationStaff.organisation_id == row.organisation_id,
        )
        .order_by(Account.username)
    )
    return OrgSeniorOut(
        senior_id=senior.id,
        display_name=senior.display_name,
        organisation_id=row.organisation_id,
        region=region.name if region else None,
        workers=list(workers),
    )


def organisation_seniors(
    ctx: ApiContext, caller: Principal, org_id: str, *, audit_each: bool = True
) -> list[OrgSeniorOut]:
    """The organisation's seniors with their region and workers, in three queries. Audited
    with one row per senior (the API's lists), or one row for the page (`audit_each` False:
    the app's page, as its board)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        organisation_for(session, caller, org_id)
        rows = session.execute(
            select(Senior.id, Senior.display_name, OrganisationRegion.name)
            .join(OrganisationSenior, OrganisationSenior.senior_id == Senior.id)
            .outerjoin(OrganisationRegion, OrganisationRegion.id == OrganisationSenior.region_id)
            .where(OrganisationSenior.organisation_id == org_id)
            .order_by(Senior.id)
        ).all()
        workers: dict[str, list[str]] = {}
        for senior_id, username in session.execute(
            select(CaregiverLink.senior_id, Account.username)
            .join(Account, Account.id == CaregiverLink.account_id)
            .join(OrganisationStaff, OrganisationStaff.account_id == Account.id)
            .join(OrganisationSenior, OrganisationSenior.senior_id == CaregiverLink.senior_id)
            .where(
                OrganisationStaff.organisation_id == org_id,
                OrganisationSenior.organisation_id == org_id,
            )
            .order_by(Account.username)
        ):
            workers.setdefault(senior_id, []).append(username)
        if audit_each:
            audit_reads(session, caller, "organisation_senior", [r[0] for r in rows], now)
        else:
            audit(
                session,
                caller,
                "read",
                "organisation_senior",
                now,
                detail=f"app: {org_id}: {len(rows)} seniors",
            )
        return [
            OrgSeniorOut(
                senior_id=senior_id,
                display_name=name,
                organisation_id=org_id,
                region=region,
                workers=workers.get(senior_id, []),
            )
            for senior_id, name, region in rows
        ]


def _region_id(session: Session, org_id: str, name: str | None) -> int | None:
    if name is None:
        return None
    found = session.scalar(
        select(OrganisationRegion.id).where(
            OrganisationRegion.organisation_id == org_id, OrganisationRegion.name == name
        )
    )
    if found is None:
        raise InvalidInputError(
            both("조직에 그 지역이 없습니다", f"the organisation has no region named {name!r}")
        )
    return found


def _end_old_caseload(session: Session, senior_id: str, old_org: str) -> int:
    """Links of the old organisation's staff to a senior who leaves it."""
    gone = session.execute(
        delete(CaregiverLink).where(
            CaregiverLink.senior_id == senior_id,
            CaregiverLink.account_id.in_(
                select(OrganisationStaff.account_id).where(
                    OrganisationStaff.organisation_id == old_org
                )
            ),
        )
    )
    return int(gone.rowcount)  # type: ignore[attr-defined]


def assign_senior(
    ctx: ApiContext, caller: Principal, org_id: str, senior_id: str, body: OrgSeniorIn
) -> OrgSeniorOut:
    """Put a senior in the organisation and one of its regions. A platform admin may assign
    any senior (moving them from another organisation ends that one's caseload links); an
    organisation admin only changes the region of their own seniors."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        organisation_for(session, caller, org_id, manage=True)
        senior = session.get(Senior, senior_id)
        row = session.get(OrganisationSenior, senior_id)
        if senior is None or (
            caller.role is not Role.ADMIN and (row is None or row.organisation_id != org_id)
        ):
            raise _no_senior(senior_id)
        region_id = _region_id(session, org_id, body.region)
        detail = f"{org_id}: {body.region or '-'}"
        if row is None:
            row = OrganisationSenior(
                senior_id=senior_id, organisation_id=org_id, region_id=region_id, assigned_at=now
            )
            session.add(row)
        elif row.organisation_id != org_id:
            ended = _end_old_caseload(session, senior_id, row.organisation_id)
            detail += f" (from {row.organisation_id}, {ended} caseload links ended)"
            row.organisation_id, row.region_id, row.assigned_at = org_id, region_id, now
        else:
            row.region_id = region_id
        session.flush()
        audit(
            session,
            caller,
            "assign",
            "organisation_senior",
            now,
            resource_id=senior_id,
            senior_id=senior_id,
            detail=detail,
        )
        return _senior_out(session, senior, row)


def unassign_senior(ctx: ApiContext, caller: Principal, org_id: str, senior_id: str) -> None:
    """Take a senior out of the organisation (platform admin); its staff's links end."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        organisation_for(session, caller, org_id)
        row = session.get(OrganisationSenior, senior_id)
        if row is None or row.organisation_id != org_id:
            raise _no_senior(senior_id)
        ended = _end_old_caseload(session, senior_id, org_id)
        session.delete(row)
        audit(
            session,
            caller,
            "unassign",
            "organisation_senior",
            now,
            resource_id=senior_id,
            senior_id=senior_id,
            detail=f"{org_id}: {ended} caseload links ended",
        )


def set_worker(
    ctx: ApiContext, caller: Principal, org_id: str, senior_id: str, username: str, on: bool
) -> None:
    """Put one of the organisation's seniors in (or out of) a staff member's caseload: a link
    with relation 'worker', which the board's worker filter reads (organisation admin)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        organisation_for(session, caller, org_id, manage=True)
        row = session.get(OrganisationSenior, senior_id)
        if row is None or row.organisation_id != org_id:
            raise _no_senior(senior_id)
        account = session.scalars(select(Account).where(Account.username == username)).first()
        membership = session.get(OrganisationStaff, account.id) if account is not None else None
        if account is None or membership is None or membership.organisation_id != org_id:
            raise InvalidInputError(
                both("조직의 직원이 아닙니다", f"{username!r} is not on the staff of {org_id!r}")
            )
        link = session.scalars(
            select(CaregiverLink).where(
                CaregiverLink.account_id == account.id, CaregiverLink.senior_id == senior_id
            )
        ).first()
        if on and link is None:
            session.add(
                CaregiverLink(account_id=account.id, senior_id=senior_id, relation=WORKER_RELATION)
            )
        elif not on:
            if link is None:
                raise NotFoundError(
                    both(
                        "담당이 아닙니다",
                        f"{username!r} does not have {senior_id!r} in their caseload",
                    )
                )
            session.delete(link)
        audit(
            session,
            caller,
            "link" if on else "unlink",
            "caregiver_link",
            now,
            resource_id=account.id,
            senior_id=senior_id,
            detail=f"{org_id}: worker",
        )


@router.get("/{org_id}/seniors")
def list_organisation_seniors(ctx: Ctx, caller: Caller, org_id: OrgId) -> list[OrgSeniorOut]:
    """The organisation's seniors, their regions and workers (its staff, platform admin)."""
    return organisation_seniors(ctx, caller, org_id)


@router.put("/{org_id}/seniors/{senior_id}")
def put_senior(
    ctx: Ctx, caller: Caller, org_id: OrgId, senior_id: SeniorId, body: OrgSeniorIn
) -> OrgSeniorOut:
    """Assign a senior to the organisation and a region (platform admin), or change the
    region of one of its seniors (organisation admin)."""
    return assign_senior(ctx, caller, org_id, senior_id, body)


@router.delete("/{org_id}/seniors/{senior_id}", status_code=204, dependencies=AdminOnly)
def delete_senior(ctx: Ctx, caller: Caller, org_id: OrgId, senior_id: SeniorId) -> None:
    """Take a senior out of the organisation (platform admin)."""
    unassign_senior(ctx, caller, org_id, senior_id)


@router.put("/{org_id}/seniors/{senior_id}/workers/{username}", status_code=204)
def put_worker(
    ctx: Ctx, caller: Caller, org_id: OrgId, senior_id: SeniorId, username: Username
) -> None:
    """Put the senior in a staff member's caseload (organisation admin)."""
    set_worker(ctx, caller, org_id, senior_id, username, True)


@router.delete("/{org_id}/seniors/{senior_id}/workers/{username}", status_code=204)
def delete_worker(
    ctx: Ctx, caller: Caller, org_id: OrgId, senior_id: SeniorId, username: Username
) -> None:
    """Take the senior out of a staff member's caseload (organisation admin)."""
    set_worker(ctx, caller, org_id, senior_id, username, False)
