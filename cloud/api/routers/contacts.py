"""/seniors/{id}/contacts: who an alert about this senior can reach, and by which channel."""

import re
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends
from sqlalchemy import select
from sqlalchemy.orm import Session

from cloud.accounts.access import Principal, get_senior, staff_of, visible_seniors
from cloud.accounts.audit import audit
from cloud.accounts.errors import ConflictError, ForbiddenError, InvalidInputError, NotFoundError
from cloud.alerts import audience
from cloud.api.context import ApiContext
from cloud.api.deps import CARE_ROLES, Caller, Ctx, roles
from cloud.api.schemas import ContactIn, ContactOut
from cloud.errors import at_field, both
from cloud.netpolicy import BlockedAddressError, check_webhook_url
from cloud.store.models import (
    Account,
    Channel,
    Contact,
    EscalationPolicy,
    OrganisationSenior,
    Role,
)

_GROUP_FORBIDDEN = both(
    "기관 직원 그룹(org:staff, org:admins)은 그 기관의 직원이나 관리자만 연락처로 정할 수 있습니다",
    "only staff of the senior's organisation or an admin may name a staff group"
    " (org:staff, org:admins) as a push contact",
)


class GroupContactForbiddenError(ForbiddenError):
    """The caller may not name a staff group as a push contact (403, audited as a denial)."""


router = APIRouter(
    prefix="/seniors/{senior_id}/contacts",
    tags=["contacts"],
    dependencies=[Depends(roles(*CARE_ROLES))],
)
_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


def check_target(ctx: ApiContext, channel: Channel, target: str) -> None:
    """A webhook needs an http(s) URL to a public address (SSRF), an e-mail contact an
    address."""
    if channel is Channel.WEBHOOK:
        parts = urlsplit(target)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InvalidInputError(
                both(
                    "웹훅 연락처에는 http(s) URL이 필요합니다",
                    "a webhook contact needs an http(s) URL",
                    at="body.target",
                )
            )
        try:
            check_webhook_url(target, ctx.webhook_allow, ctx.resolve, allow_unresolved=True)
        except BlockedAddressError as e:
            raise InvalidInputError(at_field("body.target", str(e))) from None
    elif channel is Channel.EMAIL and not _EMAIL.fullmatch(target):
        raise InvalidInputError(
            both(
                "이메일 연락처에는 이메일 주소가 필요합니다",
                "an email contact needs an e-mail address",
                at="body.target",
            )
        )


def push_account(
    session: Session,
    caller: Principal,
    senior_id: str,
    channel: Channel,
    target: str,
    previous: Contact | None = None,
) -> int | None:
    """A push contact's account (an enabled one that may see the senior: a caregiver linked to
    them, or staff of their organisation); None for the other channels and for a group
    (`org:staff`, `org:admins`: the senior's organisation's staff, read when an alert escalates).
    Only that organisation's staff or a platform admin may newly name a group (403 otherwise):
    a family caregiver must not make an agency's workers receive pushes."""
    if channel is not Channel.PUSH:
        return None
    if audience.is_group(target):
        if not audience.has_organisation(session, senior_id):
            raise InvalidInputError(
                both(
                    "기관 직원에게 보내는 푸시 연락처는 기관이 돌보는 어르신에게만 둘 수 있습니다",
                    "a push contact to the organisation's staff needs a senior cared for by an"
                    " organisation",
                    at="body.target",
                )
            )
        unchanged = previous is not None and (previous.channel, previous.target) == (
            channel,
            target,
        )
        if not unchanged and not may_name_group(session, caller, senior_id):
            raise GroupContactForbiddenError(_GROUP_FORBIDDEN)
        return None
    account = session.scalar(select(Account).where(Account.username == target))
    if account is not None and not account.disabled:
        who = Principal(account.role, account.id, account.username, account.display_name)
        visible = visible_seniors(session, who)
        if visible is None or senior_id in visible:
            return account.id
    raise InvalidInputError(
        both(
            "푸시 연락처에는 이 어르신을 볼 수 있는 계정의 아이디를 적어야 합니다",
            "a push contact needs the username of an account that can see this senior",
            at="body.target",
        )
    )


def may_name_group(session: Session, caller: Principal, senior_id: str) -> bool:
    """A platform admin, or staff of the organisation that cares for the senior."""
    if caller.role is Role.ADMIN:
        return True
    membership = staff_of(session, caller)
    if membership is None:
        return False
    cared = session.get(OrganisationSenior, senior_id)
    return cared is not None and cared.organisation_id == membership.organisation_id


def _contact(session: Session, senior_id: str, contact_id: int) -> Contact:
    contact = session.get(Contact, contact_id)
    if contact is None or contact.senior_id != senior_id:
        raise NotFoundError(
            both(
                f"어르신 {senior_id!r}에게 id {contact_id}인 연락처가 없습니다",
                f"senior {senior_id!r} has no contact with id {contact_id}",
            )
        )
    return contact


@router.get("")
def list_contacts(ctx: Ctx, caller: Caller, senior_id: str) -> list[ContactOut]:
    """The senior's contacts."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        rows = session.scalars(
            select(Contact).where(Contact.senior_id == senior_id).order_by(Contact.id)
        )
        items = [ContactOut.model_validate(c) for c in rows]
        audit(session, caller, "read", "contact", now, senior_id=senior_id)
        return items


@router.post("", status_code=201)
def add_contact(ctx: Ctx, caller: Caller, senior_id: str, body: ContactIn) -> ContactOut:
    """Add a contact."""
    check_target(ctx, body.channel, body.target)
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        account_id = push_account(session, caller, senior_id, body.channel, body.target)
        contact = Contact(senior_id=senior_id, account_id=account_id, **body.model_dump())
        session.add(contact)
        session.flush()
        audit(
            session, caller, "create", "contact", now, resource_id=contact.id, senior_id=senior_id
        )
        return ContactOut.model_validate(contact)


@router.get("/{contact_id}")
def read_contact(ctx: Ctx, caller: Caller, senior_id: str, contact_id: int) -> ContactOut:
    """One contact."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        contact = _contact(session, senior_id, contact_id)
        audit(session, caller, "read", "contact", now, resource_id=contact_id, senior_id=senior_id)
        return ContactOut.model_validate(contact)


@router.put("/{contact_id}")
def replace_contact(
    ctx: Ctx, caller: Caller, senior_id: str, contact_id: int, body: ContactIn
) -> ContactOut:
    """Replace a contact's details."""
    check_target(ctx, body.channel, body.target)
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        contact = _contact(session, senior_id, contact_id)
        account_id = push_account(
            session, caller, senior_id, body.channel, body.target, previous=contact
        )
        for name, value in body.model_dump().items():
            setattr(contact, name, value)
        contact.account_id = account_id
        audit(
            session, caller, "update", "contact", now, resource_id=contact_id, senior_id=senior_id
        )
        return ContactOut.model_validate(contact)


@router.delete("/{contact_id}", status_code=204)
def delete_contact(ctx: Ctx, caller: Caller, senior_id: str, contact_id: int) -> None:
    """Remove a contact (not while the escalation policy names it)."""
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        get_senior(session, caller, senior_id)
        contact = _contact(session, senior_id, contact_id)
        policy = session.scalars(
            select(EscalationPolicy).where(EscalationPolicy.senior_id == senior_id)
        ).one_or_none()
        tiers = policy.tiers.get("tiers", []) if policy is not None else []
        if any(contact_id in t.get("contact_ids", []) for t in tiers):
            raise ConflictError(
                both(
                    f"연락처 {contact_id}이(가) 비상 연락 정책에 있습니다. 정책을 먼저 바꾸세요",
                    f"contact {contact_id} is in the escalation policy: change the policy first",
                )
            )
        session.delete(contact)
        audit(
            session, caller, "delete", "contact", now, resource_id=contact_id, senior_id=senior_id
        )
