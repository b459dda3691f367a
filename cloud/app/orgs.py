"""/app/orgs: an organisation's page - its staff, regions and seniors' regions - for its admin
(and a platform admin), read-only for its other staff. Every change goes through the
organisations API's own handlers (`cloud.api.routers.organisations`): the same scoping
(another organisation is a 404, audited), the same rights (403 for staff who are not its
admin), the same audit rows; the API's refusals are shown in the page's language."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from cloud.accounts.access import Principal, staff_of
from cloud.accounts.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from cloud.api.context import ApiContext
from cloud.api.routers import organisations as orgs_api
from cloud.api.schemas import ID_PATTERN
from cloud.api.schemas_orgs import (
    OrganisationDetail,
    OrganisationOut,
    OrgSeniorIn,
    OrgSeniorOut,
    RegionIn,
    StaffIn,
)
from cloud.app.i18n import message
from cloud.app.pages import _caller, _Denied, _deny, _login_redirect
from cloud.app.web import PREFIX, context, csrf_ok, language, read_form, render, signed_in
from cloud.errors import both
from cloud.store.models import Role
from protocol.bilingual import in_language

router = APIRouter(prefix=f"{PREFIX}/orgs", include_in_schema=False)
OrgId = Annotated[str, Path(pattern=ID_PATTERN)]


@dataclass
class OrgView:
    """What the organisation page shows, and the outcome of the last form."""

    org: OrganisationDetail
    seniors: list[OrgSeniorOut]
    may_manage: bool
    notice: str | None = None
    error: str | None = None


def _may_manage(ctx: ApiContext, principal: Principal, org_id: str) -> bool:
    if principal.role is Role.ADMIN:
        return True
    with ctx.sessions() as session:
        membership = staff_of(session, principal)
        return bool(membership and membership.organisation_id == org_id and membership.is_admin)


def load_view(ctx: ApiContext, principal: Principal, org_id: str) -> OrgView:
    """The organisation, its staff, regions and seniors through the API (each read audited)."""
    org = orgs_api.organisation_detail(ctx, principal, org_id)
    seniors = orgs_api.organisation_seniors(ctx, principal, org_id, audit_each=False)
    return OrgView(org, seniors, _may_manage(ctx, principal, org_id))


def _list(ctx: ApiContext, principal: Principal) -> list[OrganisationOut]:
    return orgs_api.list_organisations(ctx, principal)


@router.get("")
def organisations(request: Request) -> Response:
    """Every organisation (platform admin); staff go straight to their own."""
    try:
        principal = _caller(request)
    except _Denied as denied:
        return _deny(request, signed_in(request), denied)
    if principal is None:
        return _login_redirect(request)
    orgs = _list(context(request), principal)
    if principal.role is not Role.ADMIN and len(orgs) == 1:
        return RedirectResponse(f"{PREFIX}/orgs/{orgs[0].id}", status_code=303)
    return render(request, "orgs.html.j2", {"orgs": orgs}, principal=principal)


@router.get("/{org_id}")
def organisation_page(request: Request, org_id: OrgId) -> Response:
    """The organisation's staff, regions and seniors."""
    try:
        principal = _caller(request)
        if principal is None:
            return _login_redirect(request)
        try:
            view = load_view(context(request), principal, org_id)
        except NotFoundError:
            raise _Denied(404, "not_found") from None
    except _Denied as denied:
        return _deny(request, signed_in(request), denied)
    return render(request, "org.html.j2", {"v": view}, principal=principal)


async def _change(request: Request, org_id: str, action: str, target: str = "") -> Response:
    """Run one change through the API's handler; the page again with what happened."""
    form = await read_form(request)
    if form is None or not csrf_ok(request, form):
        return render(request, "error.html.j2", {"message_key": "bad_form"}, status_code=403)
    ctx = context(request)
    lang = language(request)
    principal: Principal | None = None
    try:
        principal = await run_in_threadpool(_caller, request)
        if principal is None:
            return _login_redirect(request)
        code = 200
        notice: str | None = message(lang, "org_saved")
        error: str | None = None
        try:
            await run_in_threadpool(_apply, ctx, principal, org_id, action, target, form)
        except NotFoundError as e:
            if action in ("remove_staff", "remove_region") and _sees(ctx, principal, org_id):
                code, notice, error = 404, None, in_language(str(e), lang)
            else:
                raise _Denied(404, "not_found") from None
        except ForbiddenError:
            raise _Denied(403, "read_only") from None
        except ConflictError as e:
            code, notice, error = 409, None, in_language(str(e), lang)
        except InvalidInputError as e:
            code, notice, error = 422, None, in_language(str(e), lang)
        except ValidationError:
            code, notice, error = 422, None, message(lang, "bad_input")
        try:
            view = await run_in_threadpool(load_view, ctx, principal, org_id)
        except NotFoundError:  # the caller just left the organisation's staff
            raise _Denied(404, "not_found") from None
    except _Denied as denied:
        return await run_in_threadpool(_deny, request, principal, denied)
    view.notice, view.error = notice, error
    return render(request, "org.html.j2", {"v": view}, status_code=code, principal=principal)


def _sees(ctx: ApiContext, principal: Principal, org_id: str) -> bool:
    with ctx.sessions() as session:
        try:
            orgs_api.organisation_for(session, principal, org_id)
        except NotFoundError:
            return False
    return True


def _apply(
    ctx: ApiContext,
    principal: Principal,
    org_id: str,
    action: str,
    target: str,
    form: dict[str, str],
) -> None:
    if action == "add_staff":
        username = form.get("username", "").strip()
        if not username or len(username) > 100:
            raise InvalidInputError(both(message("ko", "bad_input"), message("en", "bad_input")))
        rights = StaffIn(is_admin=form.get("is_admin") == "on")
        orgs_api.set_staff(ctx, principal, org_id, username, rights)
    elif action == "remove_staff":
        orgs_api.remove_staff(ctx, principal, org_id, target)
    elif action == "add_region":
        orgs_api.add_region(ctx, principal, org_id, RegionIn(name=form.get("name", "")))
    elif action == "remove_region":
        orgs_api.remove_region(ctx, principal, org_id, int(target))
    elif action == "senior_region":
        place = OrgSeniorIn(region=form.get("region") or None)
        orgs_api.assign_senior(ctx, principal, org_id, target, place)


@router.post("/{org_id}/staff")
async def add_staff(request: Request, org_id: OrgId) -> Response:
    """Add a caregiver account to the staff (or change their admin right)."""
    return await _change(request, org_id, "add_staff")


@router.post("/{org_id}/staff/{username}/remove")
async def remove_staff(
    request: Request, org_id: OrgId, username: Annotated[str, Path(max_length=100)]
) -> Response:
    """Take a staff member off the staff (their caseload links end)."""
    return await _change(request, org_id, "remove_staff", username)


@router.post("/{org_id}/regions")
async def add_region(request: Request, org_id: OrgId) -> Response:
    """Add a region."""
    return await _change(request, org_id, "add_region")


@router.post("/{org_id}/regions/{region_id}/remove")
async def remove_region(
    request: Request, org_id: OrgId, region_id: Annotated[int, Path(ge=1, le=2**31 - 1)]
) -> Response:
    """Remove an empty region."""
    return await _change(request, org_id, "remove_region", str(region_id))


@router.post("/{org_id}/seniors/{senior_id}")
async def senior_region(
    request: Request, org_id: OrgId, senior_id: Annotated[str, Path(max_length=64)]
) -> Response:
    """Put one of the organisation's seniors in a region (or none)."""
    return await _change(request, org_id, "senior_region", senior_id)
