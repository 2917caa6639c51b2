"""What every dashboard page shares: the signed-in member (or a redirect to sign in), rendering in the member's
language inside the common layout, form fields read within bounds, and the HTML answer to a refused request.

A page module declares `router = APIRouter()` (mounted under /app by `web.router`), takes `page: SignedInPage`
(or `AdminPage` for settings only admins change), calls the domain's services with `page.principal`, and
answers `render(request, "template.html", {...}, page=page)`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.datastructures import FormData

from easyflow.audit.service import Actor
from easyflow.config import Settings
from easyflow.models.tenancy import Role, Tenant, User
from easyflow.tenancy.auth import Session
from easyflow.tenancy.principal import Principal
from easyflow.tenancy.repository import TenantRepository, UserRepository
from easyflow.tenancy.two_factor import TwoFactorService
from easyflow.web.i18n import choose_locale, translations
from easyflow.web.sessions import MAX_TOKEN_LENGTH, DashboardSessions, SignedInMember, session_csrf_token

SESSION_COOKIE = "ef_session"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
LOGIN_PATH = "/app/login"
TWO_FACTOR_PATH = "/app/account/two-factor"
# Where a member the tenant requires to set up two-factor sign-in may still go.
SETUP_ONLY_PATHS = (TWO_FACTOR_PATH, "/app/logout", "/app/account/language")
# Longer than any address or password LoginRequest accepts, so an oversized field still gets its clear answer.
MAX_FIELD_CHARS = 1000

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")


def N_(message: str) -> str:
    """Marks a message for extraction; it is translated where it is shown."""
    return message


# The sign-in form's and an invitation's answer when the account's sign-in limit is reached.
TOO_MANY_ATTEMPTS = N_("Too many sign-in attempts. Wait a little and try again.")


@dataclass(frozen=True)
class NavItem:
    path: str
    title: str
    # The least role that sees the item.
    role: Role = Role.viewer
    # The section's other pages, which its tabs lead to: the item is current on them too.
    also: tuple[str, ...] = ()

    def is_current(self, path: str) -> bool:
        if path == self.path:
            return True
        return any(path.startswith(prefix) for prefix in (self.path, *self.also) if prefix != "/app/")


# The dashboard's sections, in the order of the menu.
NAVIGATION = (
    NavItem("/app/", N_("Home")),
    NavItem("/app/inbox", N_("Inbox")),
    NavItem("/app/contacts", N_("Contacts")),
    NavItem("/app/deals", N_("Deals")),
    NavItem("/app/tasks", N_("Tasks")),
    NavItem("/app/calendar", N_("Calendar")),
    NavItem("/app/partners", N_("Partners"), Role.operator),
    NavItem("/app/services", N_("Catalogue"), also=("/app/staff", "/app/resources", "/app/products")),
    NavItem("/app/analytics/funnel", N_("Analytics")),
    NavItem("/app/pipelines", N_("Pipelines"), Role.admin),
    NavItem("/app/imports", N_("Import"), Role.admin),
    NavItem("/app/assistants", N_("Assistants"), Role.admin),
    NavItem("/app/knowledge", N_("Knowledge")),
    NavItem("/app/channels", N_("Channels"), Role.admin),
    NavItem("/app/team", N_("Team")),
    NavItem("/app/api-keys", N_("API keys"), Role.admin),
    NavItem("/app/settings", N_("Settings"), Role.admin),
    NavItem("/app/audit", N_("Audit log"), Role.admin),
)


@dataclass(frozen=True)
class SignedIn:
    """The member a page is shown to, read once per request."""

    member: SignedInMember
    token: str
    user: User
    tenant: Tenant
    csrf_token: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def principal(self) -> Principal:
        return Principal(tenant_id=self.member.tenant_id, role=self.member.role, user_id=self.member.user_id)

    @property
    def tenant_id(self) -> uuid.UUID:
        return self.member.tenant_id

    @property
    def role(self) -> Role:
        return self.member.role

    def actor(self) -> Actor:
        return Actor("user", self.user.email, self.user.id)


async def _signed_in(request: Request, session: Session) -> SignedIn:
    """The member of the session cookie; without a live session, a redirect to the sign-in page (raised, so
    the pages that depend on this need not check). A member of a tenant that requires two-factor sign-in who
    has not set it up is sent to set it up, whatever page they asked for."""
    settings: Settings = request.app.state.settings
    token = cookie(request, SESSION_COOKIE)
    member = await DashboardSessions(session, settings).resume(token)
    user = await UserRepository(session).get(member.user_id) if member is not None else None
    tenant = await TenantRepository(session).get(member.tenant_id) if member is not None else None
    if member is None or token is None or user is None or tenant is None:
        raise HTTPException(status.HTTP_303_SEE_OTHER, headers={"Location": LOGIN_PATH})
    if (
        tenant.two_factor_required
        and not request.url.path.startswith(SETUP_ONLY_PATHS)
        and not await TwoFactorService(session, settings).enabled(user.id)
    ):
        raise HTTPException(status.HTTP_303_SEE_OTHER, headers={"Location": TWO_FACTOR_PATH})
    return SignedIn(member, token, user, tenant, session_csrf_token(settings, token))


async def _signed_in_admin(page: Annotated[SignedIn, Depends(_signed_in)]) -> SignedIn:
    if not page.role.at_least(Role.admin):
        raise PageRefused(status.HTTP_403_FORBIDDEN, N_("Only the workspace's admins and owners can open this page."))
    return page


async def _admin_on_its_own(request: Request) -> SignedIn:
    """The signed-in admin, read in a short transaction of its own that ends before the route runs: for a
    route that waits on an outside service (Telegram), which must not hold a database connection meanwhile."""
    async with request.app.state.runtime.database.session() as session, session.begin():
        return await _signed_in_admin(await _signed_in(request, session))


SignedInPage = Annotated[SignedIn, Depends(_signed_in)]
AdminPage = Annotated[SignedIn, Depends(_signed_in_admin)]
AdminOutsideTransaction = Annotated[SignedIn, Depends(_admin_on_its_own)]


class PageRefused(Exception):
    """A dashboard request refused with a page saying why (not problem+json: a person reads it)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.message = message


async def refused_page(request: Request, refused: Exception) -> Response:
    assert isinstance(refused, PageRefused)
    return render(request, "refused.html", {"message": refused.message}, status_code=refused.status_code)


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    status_code: int = status.HTTP_200_OK,
    *,
    page: SignedIn | None = None,
    language: str | None = None,
) -> HTMLResponse:
    """`template` in the member's language (else `language`, else the browser's), with the layout's menu when
    signed in."""
    language = choose_locale(page.user.language if page else language, request.headers.get("accept-language"))
    words = translations(language)
    layout: dict[str, Any] = {
        "lang": language,
        "_": words.gettext,
        "ngettext": words.ngettext,
        "pgettext": words.pgettext,
        "page": page,
    }
    if page is not None:
        layout["navigation"] = [item for item in NAVIGATION if page.role.at_least(item.role)]
        layout["current_path"] = request.url.path
        layout["csrf_token"] = page.csrf_token
    return templates.TemplateResponse(
        request,
        template,
        {**layout, **context},
        status_code=status_code,
        headers={"Cache-Control": "no-store", "Content-Language": language, "Vary": "Accept-Language, Cookie"},
    )


def see_other(path: str) -> Response:
    return RedirectResponse(path, status_code=status.HTTP_303_SEE_OTHER)


def cookie(request: Request, name: str) -> str | None:
    value = request.cookies.get(name)
    return value if value and len(value) <= MAX_TOKEN_LENGTH else None


def text_field(form: FormData, name: str, max_chars: int = MAX_FIELD_CHARS) -> str | None:
    """A text field of at most `max_chars`, without NUL characters; None when absent, a file, or not so."""
    value = form.get(name)
    if not isinstance(value, str) or len(value) > max_chars or "\x00" in value:
        return None
    return value


def is_https(request: Request) -> bool:
    return request.url.scheme == "https"
