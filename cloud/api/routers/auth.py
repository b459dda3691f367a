"""POST /auth/login, POST /auth/logout, GET /auth/me: login tokens for accounts."""

import json
import logging
from typing import Annotated, Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request, Response
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from cloud.accounts.access import Principal
from cloud.accounts.audit import audit
from cloud.accounts.errors import AuthError, InvalidInputError
from cloud.accounts.ratelimit import LoginLimits, login_succeeded, reserve_attempt
from cloud.accounts.service import authenticate, normalise_username, revoke_token, set_password
from cloud.accounts.tokens import issue_token
from cloud.api.context import ApiContext
from cloud.api.deps import (
    COOKIE_NAME,
    Caller,
    Ctx,
    audit_denial,
    bearer,
    request_source,
    token_claims,
)
from cloud.api.schemas import LoginIn, MeOut, PasswordChangeIn, TokenOut
from cloud.errors import both
from cloud.store.models import Account

log = logging.getLogger(__name__)
router = APIRouter(prefix="/auth", tags=["auth"])

_BAD_LOGIN = both("아이디 또는 비밀번호가 틀립니다", "invalid username or password")
_BAD_CURRENT = both("현재 비밀번호가 틀립니다", "the current password is wrong")
_LOGIN_SCHEMA = LoginIn.model_json_schema()
_LOGIN_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": _LOGIN_SCHEMA},
            "application/x-www-form-urlencoded": {"schema": _LOGIN_SCHEMA},
        },
    }
}


def _parse_login(content_type: str, body: bytes) -> LoginIn:
    """JSON or form credentials; the error never echoes the password."""
    try:
        if content_type.startswith("application/x-www-form-urlencoded"):
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=10)
            data: Any = {k: v[0] for k, v in form.items() if k in ("username", "password")}
        else:
            data = json.loads(body)
        return LoginIn.model_validate(data)
    except (ValueError, ValidationError, RecursionError):  # Unicode/JSONDecodeError included
        pass
    raise InvalidInputError(
        both(
            "아이디와 비밀번호를 JSON 또는 폼으로 보내세요",
            "send username and password as JSON or as an application/x-www-form-urlencoded form",
            at="body",
        )
    )


def _login(ctx: ApiContext, creds: LoginIn, source: str) -> TokenOut | None:
    now = ctx.clock()
    name = normalise_username(creds.username)[:100]
    limits = LoginLimits(ctx.max_failures, ctx.account_max_failures, ctx.window_s)
    # The attempt is counted in its own committed transaction before the password is checked:
    # parallel guesses cannot all pass the limit (cloud.accounts.ratelimit).
    with ctx.sessions() as session, session.begin():
        on_account = reserve_attempt(session, name, source, now, limits)
    with ctx.sessions() as session, session.begin():
        account = authenticate(session, ctx.passwords, creds.username, creds.password)
        if account is None:
            log.info("failed login for %r from %s", name, source)
            audit_denial(
                ctx, session, None, source, "login_failed", f"username {name!r} from {source}"
            )
            return None
        login_succeeded(session, account.id, name, source, now, counted_on_account=on_account)
        who = Principal(account.role, account.id, account.username, account.display_name)
        audit(session, who, "login", "account", now, resource_id=account.id, detail=source)
        token = issue_token(
            ctx.auth_secret,
            account.id,
            account.role,
            now,
            ctx.token_ttl_s,
            version=account.token_version,
        )
        return TokenOut(
            access_token=token, expires_in=ctx.token_ttl_s, role=account.role, account_id=account.id
        )


@router.post("/login", openapi_extra=_LOGIN_BODY)
async def login(ctx: Ctx, request: Request, response: Response) -> TokenOut:
    """Trade a username and password for a short-lived token (JSON body or form)."""
    creds = _parse_login(request.headers.get("content-type", ""), await request.body())
    source = request_source(ctx, request)
    out: TokenOut | None = await run_in_threadpool(_login, ctx, creds, source)
    if out is None:
        raise AuthError(_BAD_LOGIN)
    response.set_cookie(
        COOKIE_NAME,
        out.access_token,
        max_age=out.expires_in,
        httponly=True,
        secure=ctx.cookie_secure,
        samesite="strict",
    )
    response.headers["Cache-Control"] = "no-store"
    return out


def _revoke(ctx: ApiContext, token: str) -> None:
    try:
        claims = token_claims(ctx, token)
    except AuthError:
        return  # an invalid or expired token needs no revoking
    if claims is None:
        return  # the service token is revoked by changing DOLBOM_API_TOKEN
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        revoke_token(session, claims.jti, claims.account_id, claims.expires_at, now)
        who = Principal(claims.role, claims.account_id, str(claims.account_id), "")
        audit(session, who, "logout", "account", now, resource_id=claims.account_id)


@router.post("/logout", status_code=204)
def logout(
    ctx: Ctx,
    request: Request,
    response: Response,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> None:
    """Revoke the token (bearer or cookie) until it expires, and drop the login cookie."""
    token = credentials.credentials if credentials is not None else request.cookies.get(COOKIE_NAME)
    if token:
        _revoke(ctx, token)
    response.delete_cookie(COOKIE_NAME, httponly=True, secure=ctx.cookie_secure, samesite="strict")


@router.post("/password", status_code=204)
def change_password(ctx: Ctx, caller: Caller, request: Request, body: PasswordChangeIn) -> None:
    """Change one's own password (the current one is checked); every session ends."""
    if caller.account_id is None:
        raise InvalidInputError(
            both("서비스 토큰에는 비밀번호가 없습니다", "the service token has no password")
        )
    now = ctx.clock()
    with ctx.sessions() as session, session.begin():
        account = session.get_one(Account, caller.account_id)
        if not ctx.passwords.verify(account.password_hash, body.current_password):
            audit_denial(
                ctx, session, caller, request_source(ctx, request), "password_failed", None
            )
            raise AuthError(_BAD_CURRENT)
        set_password(ctx.passwords, account, body.new_password)
        audit(session, caller, "password", "account", now, resource_id=account.id)


@router.get("/me")
def me(caller: Caller) -> MeOut:
    """Who the token belongs to."""
    return MeOut(
        account_id=caller.account_id,
        username=caller.username,
        display_name=caller.display_name,
        role=caller.role,
    )
