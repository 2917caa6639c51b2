"""The team page: the workspace's members and open invitations; admins invite by a link they hand over, change
roles and deactivate members, with the API's rules and audit entries (`/api/v1/users`). The invitation's link
page, where the invited person chooses a name and password, and the member's own password change."""

from __future__ import annotations

import time
import uuid
from datetime import timedelta
from email.errors import MessageError
from typing import Any

import aiosmtplib
import structlog
from fastapi import APIRouter, Request, status
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from easyflow.audit import service as audit
from easyflow.config import Settings
from easyflow.db.session import scope_to_tenant
from easyflow.inbox.notices import Notice, send_email
from easyflow.inbox.schemas import TeamCreate, TeamMembers
from easyflow.inbox.teams import Teams
from easyflow.kit.errors import (
    Conflict,
    DomainError,
    Forbidden,
    NotFound,
    RateLimited,
    Unauthorized,
    Unprocessable,
)
from easyflow.models.tenancy import Role, User
from easyflow.tenancy import schemas
from easyflow.tenancy.auth import Session
from easyflow.tenancy.principal import Principal
from easyflow.tenancy.service import AuthService, InvitationService, MemberService, PasswordResetService
from easyflow.web.i18n import choose_locale, translations
from easyflow.web.page import (
    N_,
    TOO_MANY_ATTEMPTS,
    AdminPage,
    PageRefused,
    SignedIn,
    SignedInPage,
    render,
    see_other,
    text_field,
)
from easyflow.web.sessions import DashboardSessions, csrf_matches, derived_token

router = APIRouter()
log = structlog.get_logger()

TEAM_PATH = "/app/team"
INVITE_PATH = "/app/invite/"
RESET_PATH = "/app/reset/"
# Pages reached by a link whose secret is in the path, opened by someone not signed in.
LINK_PATHS = (INVITE_PATH, RESET_PATH)
PASSWORD_PATH = "/app/account/password"
MAX_LISTED = 500
LINK_LIFETIME = timedelta(days=7)
RESET_LIFETIME = timedelta(days=1)
_INVITE_LINK = "dashboard-invitation-link"
_RESET_LINK = "dashboard-password-reset-link"
_LINK_CSRF = "dashboard-link-csrf"

ROLES = (
    (Role.owner, N_("Owner")),
    (Role.admin, N_("Admin")),
    (Role.operator, N_("Operator")),
    (Role.viewer, N_("Viewer")),
)
REFUSALS: dict[type[DomainError], str] = {
    Forbidden: N_("Only an owner can make someone an owner, or change or remove an owner."),
    Conflict: N_(
        "Not possible: the person is already a member, or this is the last owner (make someone else owner first)."
    ),
    NotFound: N_("No such member in this workspace."),
}
BAD_INVITE = N_("Enter an e-mail address (at most 320 characters) and a name of at most 200 characters.")
NO_SUCH_LINK = N_("This invitation link is wrong, or it was already used or withdrawn.")
NO_SUCH_RESET_LINK = N_("This password reset link is wrong, expired, or was already used: ask for a new one.")
CANNOT_RESET = N_(
    "This person belongs to other workspaces too, so only they can change their password; "
    "only an owner can reset an owner's."
)
NO_SUCH_INVITATION = N_("No such invitation in this workspace.")
LINK_EXPIRED = N_("This invitation link has expired: ask for a new one.")
WRONG_ACCOUNT_PASSWORD = N_(
    "Wrong password, or a code is needed: enter your account's password, "
    "and the code from your authenticator app if two-factor sign-in is on."
)
BAD_PASSWORD = N_(
    "The new password is too short or too easy to guess. "
    "Use at least 10 characters that are not a common word or pattern."
)
PASSWORDS_DIFFER = N_("The two new passwords are not the same.")
WRONG_PASSWORD = N_("The current password is wrong.")
NAME_NEEDED = N_("Enter your name: 1 to 200 characters.")
INVITE_MAIL_SUBJECT = N_("Invitation to %(workspace)s")
INVITE_MAIL_TEXT = N_(
    "You are invited to join %(workspace)s. Open this link within 7 days to choose your name and password "
    "(it works once):\n\n%(link)s\n\nIf you did not expect this invitation, ignore this message."
)
RESET_MAIL_SUBJECT = N_("Password reset for %(workspace)s")
RESET_MAIL_TEXT = N_(
    "An admin of %(workspace)s made you a link to choose a new password. Open it within a day (it works "
    "once):\n\n%(link)s\n\nIf you did not ask for this, tell your admin."
)
BAD_CAPACITY = N_("Capacity is a whole number of conversations from 1 to 100, or empty for the workspace's default.")
BAD_TEAM_NAME = N_("Name the team: 1 to 100 characters.")
TEAM_NAME_TAKEN = N_("A team is already called so: choose another name.")
NO_SUCH_TEAM = N_("No such team in this workspace.")
NOT_AN_OPERATOR = N_("Only operators, admins and owners of this workspace can be in a team.")


def invitation_link(settings: Settings, invitation_id: uuid.UUID, issued: int | None = None) -> str:
    """The path that lets its holder accept the invitation for `LINK_LIFETIME` from `issued` (now); only the
    server can compute it, and nothing is stored: inviting the address again gives a fresh link."""
    issued = int(time.time()) if issued is None else issued
    return f"{INVITE_PATH}{invitation_id}/{issued}.{_link_signature(settings, invitation_id, issued)}"


def _link_signature(settings: Settings, invitation_id: uuid.UUID, issued: int) -> str:
    return derived_token(settings, _INVITE_LINK, f"{invitation_id}:{issued}")


def link_csrf_token(settings: Settings, path: str) -> str:
    """The form on a link's page (an invitation, a password reset) carries this: the link's secret, in the path,
    stands in for a session cookie."""
    return derived_token(settings, _LINK_CSRF, path)


def password_reset_link(settings: Settings, user: User, issued: int | None = None) -> str:
    """The path that lets its holder choose the account's password within `RESET_LIFETIME`; signed over the
    password's hash too, so it works once: the new password ends it (as does any other change)."""
    issued = int(time.time()) if issued is None else issued
    return f"{RESET_PATH}{user.id}/{issued}.{_reset_signature(settings, user, issued)}"


def _reset_signature(settings: Settings, user: User, issued: int) -> str:
    return derived_token(settings, _RESET_LINK, f"{user.id}:{issued}:{user.password_hash}")


@router.get("/team", response_class=HTMLResponse)
async def team_page(request: Request, session: Session, page: SignedInPage) -> Response:
    return await _team_page(request, session, page)


@router.post("/team/invite", response_class=HTMLResponse)
async def invite(request: Request, session: Session, page: AdminPage) -> Response:
    """Invite by a link shown once here for the admin to copy; audited as `member.invited`."""
    form = await request.form(max_fields=20)
    email, name, role = text_field(form, "email", 320), text_field(form, "name", 200), _role(form)
    try:
        wanted = schemas.LinkInvitation.model_validate({"email": email, "name": name or "", "role": role})
    except ValidationError:
        return await _team_page(request, session, page, error=BAD_INVITE, status_code=422)
    try:
        invitation_id = await MemberService(session, page.principal).invite_by_link(wanted)
    except (Forbidden, Conflict) as refused:
        return await _team_page(request, session, page, error=REFUSALS[type(refused)], status_code=refused.status)
    address = str(wanted.email).lower()
    details = {"email": address, "role": wanted.role.value, "by": "link"}
    await audit.record(session, page.tenant_id, page.actor(), "member.invited", details=details)
    link = str(request.base_url).rstrip("/") + invitation_link(request.app.state.settings, invitation_id)
    mailed = await _mail_link(request, page, address, link, INVITE_MAIL_SUBJECT, INVITE_MAIL_TEXT)
    return await _team_page(request, session, page, invited=(address, link), mailed=mailed)


@router.post("/team/invitations/{invitation_id}/withdraw")
async def withdraw_invitation(session: Session, page: AdminPage, invitation_id: uuid.UUID) -> Response:
    """The invitation is deleted, so its links stop working; audited as `member.invitation_withdrawn`."""
    try:
        email = await MemberService(session, page.principal).withdraw_invitation(invitation_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_INVITATION) from None
    await audit.record(
        session,
        page.tenant_id,
        page.actor(),
        "member.invitation_withdrawn",
        target=("invitation", invitation_id),
        details={"email": email},
    )
    return see_other(TEAM_PATH)


@router.post("/team/{user_id}/role")
async def change_role(request: Request, session: Session, page: AdminPage, user_id: uuid.UUID) -> Response:
    role = _role(await request.form(max_fields=20))
    if role is None:
        raise PageRefused(status.HTTP_400_BAD_REQUEST, N_("Choose a role from the list."))
    changes = schemas.MemberUpdate(role=role)
    await _refused_as_page(MemberService(session, page.principal).update(user_id, changes))
    await audit.record(
        session,
        page.tenant_id,
        page.actor(),
        "member.changed",
        target=("user", user_id),
        details=changes.model_dump(mode="json", exclude_unset=True),
    )
    return see_other(TEAM_PATH)


@router.post("/team/{user_id}/capacity")
async def change_capacity(request: Request, session: Session, page: AdminPage, user_id: uuid.UUID) -> Response:
    """How many conversations the member holds at once (empty: the workspace's default), as
    `PATCH /api/v1/users/{id}` with `capacity`; audited as `member.changed`."""
    value = text_field(await request.form(max_fields=20), "capacity", 8)
    if value is None or (value.strip() and not value.strip().isdigit()):
        raise PageRefused(422, BAD_CAPACITY)
    try:
        changes = schemas.MemberUpdate(capacity=int(value) if value.strip() else None)
    except ValidationError:
        raise PageRefused(422, BAD_CAPACITY) from None
    await _refused_as_page(MemberService(session, page.principal).update(user_id, changes))
    await audit.record(
        session,
        page.tenant_id,
        page.actor(),
        "member.changed",
        target=("user", user_id),
        details=changes.model_dump(mode="json", exclude_unset=True),
    )
    return see_other(TEAM_PATH)


@router.post("/team/teams", response_class=HTMLResponse)
async def create_team(request: Request, session: Session, page: AdminPage) -> Response:
    """A new team, through the service of `POST /api/v1/teams`."""
    name = _team_name(await request.form(max_fields=20))
    try:
        await Teams(session, page.tenant_id).create(name)
    except Conflict:
        return await _team_page(request, session, page, error=TEAM_NAME_TAKEN, status_code=409)
    return see_other(f"{TEAM_PATH}#teams")


@router.post("/team/teams/{team_id}/rename", response_class=HTMLResponse)
async def rename_team(request: Request, session: Session, page: AdminPage, team_id: uuid.UUID) -> Response:
    name = _team_name(await request.form(max_fields=20))
    try:
        await Teams(session, page.tenant_id).rename(team_id, name)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_TEAM) from None
    except Conflict:
        return await _team_page(request, session, page, error=TEAM_NAME_TAKEN, status_code=409)
    return see_other(f"{TEAM_PATH}#teams")


@router.post("/team/teams/{team_id}/members")
async def set_team_members(request: Request, session: Session, page: AdminPage, team_id: uuid.UUID) -> Response:
    """The checked members replace the team's, as `PUT /api/v1/teams/{id}/members`."""
    form = await request.form(max_fields=MAX_LISTED + 5)
    try:
        body = TeamMembers(user_ids=[uuid.UUID(str(value)) for value in form.getlist("user_ids")])
    except (ValueError, ValidationError):
        raise PageRefused(422, NOT_AN_OPERATOR) from None
    try:
        await Teams(session, page.tenant_id).set_members(team_id, body)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_TEAM) from None
    except Unprocessable:
        raise PageRefused(422, NOT_AN_OPERATOR) from None
    return see_other(f"{TEAM_PATH}#teams")


@router.post("/team/teams/{team_id}/delete")
async def delete_team(session: Session, page: AdminPage, team_id: uuid.UUID) -> Response:
    """Its conversations stay, for anyone."""
    try:
        await Teams(session, page.tenant_id).delete(team_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_TEAM) from None
    return see_other(f"{TEAM_PATH}#teams")


def _team_name(form: Any) -> TeamCreate:
    name = text_field(form, "name", 100)
    try:
        return TeamCreate(name=(name or "").strip())
    except ValidationError:
        raise PageRefused(422, BAD_TEAM_NAME) from None


@router.post("/team/{user_id}/remove")
async def deactivate(session: Session, page: AdminPage, user_id: uuid.UUID) -> Response:
    """Takes the member out of this workspace and signs them out of it (the account itself stays)."""
    await _refused_as_page(MemberService(session, page.principal).remove(user_id))
    await audit.record(session, page.tenant_id, page.actor(), "member.removed", target=("user", user_id))
    return see_other(TEAM_PATH)


@router.post("/team/{user_id}/reset-password", response_class=HTMLResponse)
async def make_password_reset_link(request: Request, session: Session, page: AdminPage, user_id: uuid.UUID) -> Response:
    """A link, shown once here, with which the member chooses a new password; audited."""
    try:
        user = await MemberService(session, page.principal).password_reset_target(user_id)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, REFUSALS[NotFound]) from None
    except Forbidden:
        raise PageRefused(status.HTTP_403_FORBIDDEN, CANNOT_RESET) from None
    await audit.record(session, page.tenant_id, page.actor(), "member.password_reset_link", target=("user", user_id))
    link = str(request.base_url).rstrip("/") + password_reset_link(request.app.state.settings, user)
    mailed = await _mail_link(request, page, user.email, link, RESET_MAIL_SUBJECT, RESET_MAIL_TEXT)
    return await _team_page(request, session, page, reset=(user.email, link), mailed=mailed)


async def _mail_link(request: Request, page: SignedIn, address: str, link: str, subject: str, text: str) -> str:
    """Mails the link in the workspace's language when the server has SMTP: "sent", "failed" or "off" (no SMTP;
    the admin hands the link over, as always shown)."""
    settings: Settings = request.app.state.runtime.settings
    if not settings.smtp_host:
        return "off"
    words = translations(choose_locale(page.tenant.default_language, None))
    values = {"workspace": page.tenant.name, "link": link}
    notice = Notice(subject=words.gettext(subject) % values, text=words.gettext(text) % values)
    try:
        await send_email(settings, address, notice)
    except (OSError, TimeoutError, MessageError, aiosmtplib.SMTPException) as failed:
        log.warning("web.link_mail_failed", error=type(failed).__name__)
        return "failed"
    return "sent"


@router.get("/reset/{user_id}/{token}", response_class=HTMLResponse)
async def password_reset_page(request: Request, session: Session, user_id: str, token: str) -> Response:
    user = await _reset_target(request, session, user_id, token)
    return _reset_page(request, user, error=None)


@router.post("/reset/{user_id}/{token}", response_class=HTMLResponse)
async def reset_password(request: Request, session: Session, user_id: str, token: str) -> Response:
    """The account's new password; every session of it, here and in the API, ends; audited in its tenants."""
    user = await _reset_target(request, session, user_id, token)
    form = await request.form(max_fields=20)
    new, repeat = text_field(form, "new_password", 256), text_field(form, "new_repeat", 256)
    if new is None or repeat is None:
        return _reset_page(request, user, error=BAD_PASSWORD, status_code=status.HTTP_400_BAD_REQUEST)
    if new != repeat:
        return _reset_page(request, user, error=PASSWORDS_DIFFER, status_code=422)
    try:
        wanted = schemas.PasswordReset(email=user.email, new_password=new)
    except ValidationError:
        return _reset_page(request, user, error=BAD_PASSWORD, status_code=422)
    tenants = await PasswordResetService(session).reset(user, wanted)
    await DashboardSessions(session, request.app.state.settings).sign_out_account(user.id)
    actor = audit.Actor("user", user.email, user.id, client_ip=request.client.host if request.client else None)
    for tenant_id in tenants:
        await scope_to_tenant(session, tenant_id)
        await audit.record(session, tenant_id, actor, "auth.password_reset", target=("user", user.id))
    return render(request, "password_reset.html", {"done": True, "email": user.email})


@router.get("/invite/{invitation_id}/{token}", response_class=HTMLResponse)
async def invitation_page(request: Request, session: Session, invitation_id: str, token: str) -> Response:
    found = await _link_target(request, session, invitation_id, token)
    return _invitation_page(request, found, error=None)


@router.post("/invite/{invitation_id}/{token}", response_class=HTMLResponse)
async def accept_invitation(request: Request, session: Session, invitation_id: str, token: str) -> Response:
    """The invited person chooses a name and password (or, for an account they already have, gives its password);
    the account joins the workspace, and the page sends them to sign in."""
    found = await _link_target(request, session, invitation_id, token)
    invitation, _, user = found
    form = await request.form(max_fields=20)
    name, password, repeat = (
        text_field(form, "name", 200),
        text_field(form, "password", 256),
        text_field(form, "password_repeat", 256),
    )
    if not invitation.joins_on_sign_in:
        return await _join_with_account(request, session, found, password, text_field(form, "code", 32))
    if password is None or repeat is None or password != repeat:
        error = PASSWORDS_DIFFER if password is not None and repeat is not None else BAD_PASSWORD
        return _invitation_page(request, found, error=error, status_code=422, name=name or "")
    try:
        acceptance = schemas.InvitationAcceptance(email=user.email, name=(name or "").strip(), password=password)
    except ValidationError as invalid:
        error = NAME_NEEDED if invalid.errors()[0]["loc"][0] == "name" else BAD_PASSWORD
        return _invitation_page(request, found, error=error, status_code=422, name=name or "")
    tenant = await InvitationService(session).accept_link(invitation.id, acceptance)
    await _record_joined(request, session, tenant.id, user, invitation.role)
    return render(request, "invitation.html", {"joined": True, "tenant_name": tenant.name, "email": user.email})


async def _join_with_account(
    request: Request, session: Session, found: Any, password: str | None, code: str | None
) -> Response:
    """An invitation of an existing account is accepted by proving it is yours: its password (and code), checked
    by the sign-in itself (throttled, audited), so a tenant admin cannot pull someone else's account in."""
    invitation, tenant, user = found
    try:
        credentials = schemas.LoginRequest(email=user.email, password=password or "", code=code or None)
    except ValidationError:
        return _invitation_page(request, found, error=WRONG_ACCOUNT_PASSWORD, status_code=422)
    client_ip = request.client.host if request.client else "unknown"
    try:
        signed_in = await AuthService(session, request.app.state.settings).sign_in(
            credentials, client_ip, request.app.state.login_limiter, via="invitation"
        )
    except RateLimited as limited:
        return _invitation_page(request, found, error=TOO_MANY_ATTEMPTS, status_code=limited.status)
    except Unauthorized as refused:
        return _invitation_page(request, found, error=WRONG_ACCOUNT_PASSWORD, status_code=refused.status)
    principal = Principal(tenant_id=signed_in.tenant_id, role=signed_in.role, user_id=signed_in.user_id)
    await InvitationService(session).accept(principal, invitation.id)
    await scope_to_tenant(session, tenant.id)
    await _record_joined(request, session, tenant.id, user, invitation.role)
    return render(request, "invitation.html", {"joined": True, "tenant_name": tenant.name, "email": user.email})


async def _record_joined(request: Request, session: Session, tenant_id: uuid.UUID, user: Any, role: Role) -> None:
    actor = audit.Actor("user", user.email, user.id, client_ip=request.client.host if request.client else None)
    details = {"role": role.value, "by": "link"}
    await audit.record(session, tenant_id, actor, "member.joined", target=("user", user.id), details=details)


@router.get("/account/password", response_class=HTMLResponse)
async def password_page(request: Request, page: SignedInPage) -> Response:
    return _password_page(request, page, changed=request.query_params.get("changed") == "1")


@router.post("/account/password", response_class=HTMLResponse)
async def change_password(request: Request, session: Session, page: SignedInPage) -> Response:
    """The member's new password, given the current one; their other sessions, here and in the API, end."""
    form = await request.form(max_fields=20)
    current, new, repeat = (text_field(form, name, 256) for name in ("current_password", "new_password", "new_repeat"))
    if current is None or new is None or repeat is None:
        return _password_page(request, page, error=BAD_PASSWORD, status_code=status.HTTP_400_BAD_REQUEST)
    if new != repeat:
        return _password_page(request, page, error=PASSWORDS_DIFFER, status_code=422)
    try:
        change = schemas.PasswordChange(email=page.user.email, current_password=current, new_password=new)
    except ValidationError as invalid:
        field = invalid.errors()[0]["loc"][0]
        error = WRONG_PASSWORD if field == "current_password" else BAD_PASSWORD
        return _password_page(request, page, error=error, status_code=422)
    try:
        await MemberService(session, page.principal).change_own_password(change)
    except Unauthorized:
        return _password_page(request, page, error=WRONG_PASSWORD, status_code=status.HTTP_403_FORBIDDEN)
    signed_out = await DashboardSessions(session, request.app.state.settings).sign_out_others(page.member)
    await audit.record(
        session, page.tenant_id, page.actor(), "auth.password_changed", details={"other_sessions_ended": signed_out}
    )
    return see_other(f"{PASSWORD_PATH}?changed=1")


async def _refused_as_page(action: Any) -> Any:
    try:
        return await action
    except (Forbidden, Conflict, NotFound) as refused:
        raise PageRefused(refused.status, REFUSALS[type(refused)]) from refused


def _role(form: Any) -> Role | None:
    value = text_field(form, "role", 16)
    return Role(value) if value is not None and value in Role.__members__ else None


async def _link_target(request: Request, session: Session, invitation_id: str, token: str) -> Any:
    settings: Settings = request.app.state.settings
    try:
        parsed = uuid.UUID(invitation_id)
    except ValueError:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_LINK) from None
    issued, _, signature = token.partition(".")
    if not (issued.isascii() and issued.isdigit() and len(issued) <= 12) or not csrf_matches(
        _link_signature(settings, parsed, int(issued)), signature[:128]
    ):
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_LINK)
    if not 0 <= time.time() - int(issued) <= LINK_LIFETIME.total_seconds():
        raise PageRefused(status.HTTP_410_GONE, LINK_EXPIRED)
    try:
        return await InvitationService(session).link_target(parsed)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_LINK) from None


async def _reset_target(request: Request, session: Session, user_id: str, token: str) -> User:
    settings: Settings = request.app.state.settings
    issued, _, signature = token.partition(".")
    try:
        parsed = uuid.UUID(user_id)
    except ValueError:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_RESET_LINK) from None
    fresh = issued.isascii() and issued.isdigit() and len(issued) <= 12
    if not fresh or not 0 <= time.time() - int(issued) <= RESET_LIFETIME.total_seconds():
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_RESET_LINK)
    try:
        user = await PasswordResetService(session).account(parsed)
    except NotFound:
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_RESET_LINK) from None
    if not csrf_matches(_reset_signature(settings, user, int(issued)), signature[:128]):
        raise PageRefused(status.HTTP_404_NOT_FOUND, NO_SUCH_RESET_LINK)
    return user


def _reset_page(request: Request, user: User, *, error: str | None, status_code: int = status.HTTP_200_OK) -> Response:
    context = {
        "done": False,
        "email": user.email,
        "error": error,
        "csrf_token": link_csrf_token(request.app.state.settings, request.url.path),
    }
    return render(request, "password_reset.html", context, status_code)


def _invitation_page(
    request: Request, found: Any, *, error: str | None, status_code: int = status.HTTP_200_OK, name: str | None = None
) -> Response:
    invitation, tenant, user = found
    context = {
        "tenant_name": tenant.name,
        "email": user.email,
        "name": user.name if name is None else name,
        "role": dict(ROLES)[invitation.role],
        "existing_account": not invitation.joins_on_sign_in,
        "error": error,
        "csrf_token": link_csrf_token(request.app.state.settings, request.url.path),
        "joined": False,
    }
    return render(request, "invitation.html", context, status_code)


async def _team_page(
    request: Request,
    session: Session,
    page: SignedIn,
    *,
    invited: tuple[str, str] | None = None,
    reset: tuple[str, str] | None = None,
    error: str | None = None,
    mailed: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    service = MemberService(session, page.principal)
    members, total = await service.list(limit=MAX_LISTED, offset=0)
    admin = page.role.at_least(Role.admin)
    teams = await Teams(session, page.tenant_id).list()
    names = {member.user_id: member.name or member.email for member in members}
    context = {
        "teams": teams,
        "member_names": names,
        "team_candidates": [m for m in members if m.role.at_least(Role.operator)],
        "default_capacity": page.tenant.operator_capacity,
        "members": members,
        "total": total,
        "invitations": await service.pending_invitations(limit=MAX_LISTED) if admin else [],
        "roles": [(role, title) for role, title in ROLES if page.role == Role.owner or role != Role.owner],
        "role_titles": dict(ROLES),
        "admin": admin,
        "invited": invited,
        "reset": reset,
        "mailed": mailed,
        "error": error,
    }
    return render(request, "team.html", context, status_code, page=page)


def _password_page(
    request: Request,
    page: SignedIn,
    *,
    changed: bool = False,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    return render(request, "password.html", {"changed": changed, "error": error}, status_code, page=page)
