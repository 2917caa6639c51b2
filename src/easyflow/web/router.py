"""The dashboard's pages at /app/: server-rendered, signed in by a session cookie, every unsafe request
carrying a CSRF token. Routes only translate HTTP; the sign-in rules live in `web.sessions`."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request, status
from fastapi.responses import HTMLResponse, Response, StreamingResponse
from pydantic import ValidationError

from easyflow.audit import service as audit
from easyflow.config import Settings
from easyflow.inbox.events import start_staff_stream
from easyflow.kit.errors import Conflict, Forbidden, InvalidInput, RateLimited, Unauthorized
from easyflow.kit.security import new_secret
from easyflow.tenancy import schemas
from easyflow.tenancy.auth import Session
from easyflow.tenancy.principal import Principal
from easyflow.tenancy.service import MemberService
from easyflow.tenancy.two_factor import Setup, TwoFactorRequired, TwoFactorService, WrongCode
from easyflow.web import (
    analytics,
    assistants,
    calendar,
    channels,
    contacts,
    deals,
    imports,
    inbox,
    knowledge,
    partners,
    pipelines,
    tasks,
    team,
    workspace,
)
from easyflow.web import audit as audit_pages
from easyflow.web import catalogue as catalogue_pages
from easyflow.web.home import home_summary
from easyflow.web.i18n import LOCALES
from easyflow.web.page import (
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_PATH,
    MAX_FIELD_CHARS,
    N_,
    SESSION_COOKIE,
    TOO_MANY_ATTEMPTS,
    TWO_FACTOR_PATH,
    PageRefused,
    SignedIn,
    SignedInPage,
    cookie,
    is_https,
    render,
    see_other,
    text_field,
)
from easyflow.web.sessions import (
    DashboardSessions,
    NewSession,
    csrf_matches,
    login_csrf_token,
    session_csrf_token,
)

LOGIN_COOKIE = "ef_login_nonce"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_EVENT_ID = 2**63 - 1
MAX_FORM_FIELDS = 60

INVALID_INPUT = N_("Check your email and password: they contain characters that are not allowed or are too long.")
WRONG_CREDENTIALS = N_("Wrong email or password.")
CODE_NEEDED = N_("Enter the code from your authenticator app, or one of your recovery codes, with your password.")
WRONG_CODE = N_("Wrong code. Enter your password and the current code again.")
WRONG_SETUP_CODE = N_("That code is not right. Check the time on your phone and enter the code the app shows now.")
WRONG_CODE_TO_TURN_OFF = N_("Wrong or used code: two-factor sign-in is still on.")
TOO_MANY_CODES = N_("Too many wrong codes. Wait a quarter of an hour and try again.")
FORGED = N_("The form's security token is missing or wrong: reload the page and try again.")
CANNOT_TURN_OFF = N_("Your workspace requires two-factor sign-in, so it cannot be turned off.")


async def refuse_forged_requests(request: Request) -> None:
    """Every unsafe request under /app/ must carry the CSRF token of the cookie it comes with: the sign-in
    form its pre-session nonce's, everything else the session's. Checked before the route runs, so a refused
    request changes nothing."""
    if request.method in SAFE_METHODS:
        return
    settings: Settings = request.app.state.settings
    submitted = request.headers.get(CSRF_HEADER)
    if submitted is None:
        # The form is parsed once and kept for the route: as many fields as the largest settings form has.
        form = await request.form(max_fields=MAX_FORM_FIELDS)
        field = form.get(CSRF_FIELD)
        submitted = field if isinstance(field, str) else None
    if request.url.path == LOGIN_PATH:
        nonce = cookie(request, LOGIN_COOKIE)
        expected = login_csrf_token(settings, nonce) if nonce else None
    elif request.url.path.startswith(team.LINK_PATHS):
        # The link's secret, in the path, stands in for a session: only its holder can post the form.
        expected = team.link_csrf_token(settings, request.url.path)
    else:
        token = cookie(request, SESSION_COOKIE)
        expected = session_csrf_token(settings, token) if token else None
    if not csrf_matches(expected, submitted):
        raise PageRefused(status.HTTP_403_FORBIDDEN, FORGED)


router = APIRouter(prefix="/app", include_in_schema=False, dependencies=[Depends(refuse_forged_requests)])


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, session: Session) -> Response:
    settings: Settings = request.app.state.settings
    if await DashboardSessions(session, settings).resume(cookie(request, SESSION_COOKIE)) is not None:
        return see_other("/app/")
    return _login_page(request, email="", error=None, status_code=status.HTTP_200_OK)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, session: Session) -> Response:
    form = await request.form(max_fields=20)
    email, password, code = text_field(form, "email"), text_field(form, "password"), text_field(form, "code")
    wants_code = "code" in form
    if email is None or password is None or (wants_code and code is None):
        return _login_page(request, email="", error=INVALID_INPUT, status_code=status.HTTP_400_BAD_REQUEST)
    try:
        credentials = schemas.LoginRequest(email=email, password=password, code=code or None)
    except ValidationError:
        shown = email if "\x00" not in email else ""
        return _login_page(
            request, email=shown, error=INVALID_INPUT, status_code=status.HTTP_400_BAD_REQUEST, code=wants_code
        )
    client_ip = request.client.host if request.client else "unknown"
    try:
        new_session, _ = await DashboardSessions(session, request.app.state.settings).sign_in(
            credentials, client_ip, request.app.state.login_limiter
        )
    except RateLimited as limited:
        page = _login_page(request, email=email, error=TOO_MANY_ATTEMPTS, status_code=limited.status, code=wants_code)
        page.headers.update(limited.headers or {})
        return page
    except (TwoFactorRequired, WrongCode) as needs_code:
        error = CODE_NEEDED if isinstance(needs_code, TwoFactorRequired) else WRONG_CODE
        return _login_page(request, email=email, error=error, status_code=status.HTTP_401_UNAUTHORIZED, code=True)
    except Unauthorized:
        return _login_page(
            request, email=email, error=WRONG_CREDENTIALS, status_code=status.HTTP_401_UNAUTHORIZED, code=wants_code
        )
    response = see_other("/app/")
    _set_session_cookie(request, response, new_session)
    response.delete_cookie(LOGIN_COOKIE, path=LOGIN_PATH)
    return response


@router.get("/", response_class=HTMLResponse)
async def home(request: Request, session: Session, page: SignedInPage) -> Response:
    summary = await home_summary(session, page)
    return render(request, "home.html", {"summary": summary}, page=page)


@router.post("/account/language")
async def choose_language(request: Request, session: Session, page: SignedInPage) -> Response:
    """The member's language for the dashboard (empty: follow the browser's); back to the page they were on."""
    form = await request.form(max_fields=20)
    language = text_field(form, "language", max_chars=8)
    if language not in (*LOCALES, ""):
        raise PageRefused(status.HTTP_400_BAD_REQUEST, N_("No such language."))
    await MemberService(session, page.principal).set_own_language(language or None)
    back = text_field(form, "next", max_chars=200) or "/app/"
    return see_other(back if back.startswith("/app/") and not back.startswith("/app//") else "/app/")


@router.get("/events", response_class=StreamingResponse)
async def events(
    request: Request, last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None
) -> Response:
    """The staff event stream of `/api/v1/events` for the pages, signed in by the session cookie. The member
    is read in a transaction of its own that ends before the stream starts, so a stream holds none."""
    runtime = request.app.state.runtime
    async with runtime.database.session() as session, session.begin():
        member = await DashboardSessions(session, request.app.state.settings).resume(cookie(request, SESSION_COOKIE))
    if member is None:
        return Response(status_code=status.HTTP_401_UNAUTHORIZED)  # EventSource stops retrying on it
    resume = int(last_event_id) if last_event_id and last_event_id.isdigit() else None
    principal = Principal(tenant_id=member.tenant_id, role=member.role, user_id=member.user_id)
    return StreamingResponse(
        await start_staff_stream(runtime, principal, resume if resume is None or resume <= MAX_EVENT_ID else None),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@router.post("/logout")
async def logout(request: Request, session: Session) -> Response:
    await DashboardSessions(session, request.app.state.settings).sign_out(cookie(request, SESSION_COOKIE))
    return _signed_out()


@router.post("/logout-everywhere")
async def logout_everywhere(request: Request, session: Session) -> Response:
    sessions = DashboardSessions(session, request.app.state.settings)
    member = await sessions.resume(cookie(request, SESSION_COOKIE))
    if member is not None:
        await sessions.sign_out_everywhere(member)
    return _signed_out()


@router.get("/account/two-factor", response_class=HTMLResponse)
async def two_factor_page(request: Request, session: Session, page: SignedInPage) -> Response:
    """Two-factor sign-in for the member signed in: set it up (QR code and secret, then the app's first code),
    or see it is on and turn it off with a code."""
    setup = await TwoFactorService(session, request.app.state.settings).pending(page.user)
    return await _two_factor_page(request, session, page, setup=setup)


@router.post("/account/two-factor/begin", response_class=HTMLResponse)
async def begin_two_factor(request: Request, session: Session, page: SignedInPage) -> Response:
    try:
        setup = await TwoFactorService(session, request.app.state.settings).begin(page.user)
    except Conflict:
        return see_other(TWO_FACTOR_PATH)  # on already (another tab): the page says so
    return await _two_factor_page(request, session, page, setup=setup)


@router.post("/account/two-factor/confirm", response_class=HTMLResponse)
async def confirm_two_factor(request: Request, session: Session, page: SignedInPage) -> Response:
    service = TwoFactorService(session, request.app.state.settings)
    code = text_field(await request.form(max_fields=20), "code")
    try:
        recovery_codes = await service.confirm(page.user.id, code or "")
    except (WrongCode, InvalidInput, Conflict, RateLimited) as refused:
        error = TOO_MANY_CODES if isinstance(refused, RateLimited) else WRONG_SETUP_CODE
        setup = await service.pending(page.user)
        return await _two_factor_page(request, session, page, setup=setup, error=error, status_code=refused.status)
    await audit.record(session, page.member.tenant_id, page.actor(), "auth.two_factor_enabled")
    return await _two_factor_page(request, session, page, recovery_codes=recovery_codes)


@router.post("/account/two-factor/disable", response_class=HTMLResponse)
async def disable_two_factor(request: Request, session: Session, page: SignedInPage) -> Response:
    code = text_field(await request.form(max_fields=20), "code")
    try:
        await TwoFactorService(session, request.app.state.settings).disable(
            page.user.id, code or "", required_by_tenant=page.tenant.two_factor_required
        )
    except (WrongCode, TwoFactorRequired, RateLimited, Forbidden) as refused:
        error = {RateLimited: TOO_MANY_CODES, Forbidden: CANNOT_TURN_OFF}.get(type(refused), WRONG_CODE_TO_TURN_OFF)
        return await _two_factor_page(request, session, page, error=error, status_code=refused.status)
    await audit.record(session, page.member.tenant_id, page.actor(), "auth.two_factor_disabled")
    return see_other(TWO_FACTOR_PATH)


async def _two_factor_page(
    request: Request,
    session: Session,
    page: SignedIn,
    *,
    setup: Setup | None = None,
    recovery_codes: list[str] | None = None,
    error: str | None = None,
    status_code: int = status.HTTP_200_OK,
) -> Response:
    settings: Settings = request.app.state.settings
    enabled, codes_left = await TwoFactorService(session, settings).status(page.member.user_id)
    context = {
        "enabled": enabled,
        "codes_left": codes_left,
        "setup": setup,
        "recovery_codes": recovery_codes,
        "error": error,
        "required": page.tenant.two_factor_required,
    }
    return render(request, "two_factor.html", context, status_code, page=page)


def _login_page(request: Request, *, email: str, error: str | None, status_code: int, code: bool = False) -> Response:
    """The sign-in form; with `code`, also the field for a two-factor code (the password is asked again, as
    the form never carries it back)."""
    settings: Settings = request.app.state.settings
    nonce = cookie(request, LOGIN_COOKIE) or new_secret()
    response = render(
        request,
        "login.html",
        {
            "email": email[:MAX_FIELD_CHARS],
            "error": error,
            "ask_code": code,
            "csrf_token": login_csrf_token(settings, nonce),
        },
        status_code,
    )
    response.set_cookie(LOGIN_COOKIE, nonce, path=LOGIN_PATH, httponly=True, samesite="lax", secure=is_https(request))
    return response


def _set_session_cookie(request: Request, response: Response, new_session: NewSession) -> None:
    max_age = int((new_session.expires_at - datetime.now(UTC)).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        new_session.token,
        max_age=max_age,
        path="/app",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def _signed_out() -> Response:
    response = see_other(LOGIN_PATH)
    response.delete_cookie(SESSION_COOKIE, path="/app")
    return response


router.include_router(inbox.router)
router.include_router(channels.router)
router.include_router(contacts.router)
router.include_router(partners.router)
router.include_router(deals.router)
router.include_router(calendar.router)
router.include_router(tasks.router)
router.include_router(analytics.router)
router.include_router(pipelines.router)
router.include_router(imports.router)
router.include_router(knowledge.router)
router.include_router(assistants.router)
router.include_router(audit_pages.router)
router.include_router(workspace.router)
router.include_router(team.router)
router.include_router(catalogue_pages.router)
