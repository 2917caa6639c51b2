"""Request and response bodies of the tenancy routes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import available_timezones

from pydantic import AnyHttpUrl, EmailStr, Field, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from easyflow.kit.schemas import Output, StrictInput
from easyflow.models.tenancy import Role
from easyflow.tenancy.passwords import MIN_LENGTH, password_weakness

NewPassword = Annotated[str, Field(min_length=MIN_LENGTH, max_length=256)]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Language = Literal["ru", "en", "ky", "kk"]


class LoginRequest(StrictInput):
    email: EmailStr
    password: Annotated[str, Field(min_length=1, max_length=256)]
    tenant_id: uuid.UUID | None = Field(
        default=None, description="Which tenant to sign in to; defaults to the first the user joined."
    )
    code: Annotated[str, Field(max_length=32)] | None = Field(
        default=None,
        description="With two-factor sign-in on: the app's current code, or one of the recovery codes. "
        "Without it such an account is answered 401 `two-factor-required`.",
    )


class RefreshRequest(StrictInput):
    refresh_token: Annotated[str, Field(min_length=1, max_length=512)]


class TokenPair(Output):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    tenant_id: uuid.UUID
    role: Role
    two_factor_setup_required: bool = Field(
        default=False,
        description="The workspace requires two-factor sign-in and you have not set it up: until you do, "
        "this access token reaches only /api/v1/auth/.",
    )


class MembershipRead(Output):
    tenant_id: uuid.UUID
    tenant_name: str
    role: Role


class Me(Output):
    tenant_id: uuid.UUID
    role: Role
    user_id: uuid.UUID | None
    email: str | None
    name: str | None
    api_key_id: uuid.UUID | None
    memberships: list[MembershipRead]


class TenantRead(Output):
    id: uuid.UUID
    name: str
    default_language: str
    timezone: str
    facts: str
    webhook_url: str | None
    csat_enabled: bool = Field(description="Customers are asked to rate a conversation a person resolved.")
    two_factor_required: bool = Field(
        default=False, description="Every member signs in with a second factor; one without it must set it up."
    )
    created_at: datetime


class TenantUpdate(StrictInput):
    name: Name | None = None
    default_language: Language | None = None
    timezone: str | None = None
    facts: Annotated[str, Field(max_length=20000)] | None = Field(
        default=None, description="What every assistant should know: address, hours, policies."
    )
    csat_enabled: bool | None = Field(
        default=None,
        description="Ask customers to rate (1-5) a conversation a person resolved, with an optional comment.",
    )
    two_factor_required: bool | None = Field(
        default=None,
        description="Require two-factor sign-in of every member: until they set it up, their access token "
        "reaches only /api/v1/auth/ and the dashboard shows them only the two-factor page.",
    )

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str | None) -> str | None:
        if value is not None and value not in available_timezones():
            raise ValueError(f"unknown time zone {value!r}; use an IANA name such as Europe/Moscow")
        return value


class MemberCreate(StrictInput):
    email: EmailStr
    name: Annotated[str, Field(max_length=200)] = ""
    password: NewPassword | None = Field(
        default=None,
        description=f"The password of the account when the address has none yet; ignored for an existing account "
        f"(that person is invited and keeps their own). At least {MIN_LENGTH} characters and not easy to guess: "
        "common passwords, words and keyboard patterns are refused (422 says why).",
    )
    role: Role = Role.operator

    @field_validator("password")
    @classmethod
    def _hard_to_guess(cls, password: str | None, info: ValidationInfo) -> str | None:
        if password is not None:
            known = [info.data.get("email", ""), info.data.get("name", "")]
            if weakness := password_weakness(password, [value for value in known if value]):
                raise PydanticCustomError("password_too_weak", "{reason}", {"reason": weakness})
        return password


class MemberInvited(Output):
    """The same answer whether or not the address has an account, so it reveals nothing about that."""

    email: str
    role: Role


class InvitationRead(Output):
    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_name: str
    role: Role
    invited_at: datetime


MAX_CAPACITY = 100


class MemberUpdate(StrictInput):
    role: Role | None = None
    name: Annotated[str, Field(max_length=200)] | None = None
    capacity: Annotated[int, Field(ge=1, le=MAX_CAPACITY)] | None = Field(
        default=None,
        description="How many conversations they hold at once before automatic assignment skips them; "
        "null (given explicitly): the workspace's default.",
    )


class MemberRead(Output):
    user_id: uuid.UUID
    email: str
    name: str
    role: Role
    joined_at: datetime
    active: bool = Field(default=True, description="False when the account was deactivated: it cannot sign in.")
    capacity: int | None = Field(
        default=None, description="Their own limit of conversations held at once (null: the workspace's default)."
    )


class PendingInvitation(Output):
    """An invitation the tenant sent that has not been accepted yet."""

    id: uuid.UUID
    email: str
    role: Role
    invited_at: datetime


class LinkInvitation(StrictInput):
    """Invite someone by a link the admin hands them: they choose their name and password when they open it."""

    email: EmailStr
    name: Annotated[str, Field(max_length=200)] = ""
    role: Role = Role.operator


def _strong(password: str, known: list[str]) -> str:
    if weakness := password_weakness(password, [value for value in known if value]):
        raise PydanticCustomError("password_too_weak", "{reason}", {"reason": weakness})
    return password


class InvitationAcceptance(StrictInput):
    """What the invited person chooses on opening the link of an invitation that created their account."""

    email: str = Field(default="", max_length=320, description="The invited address, for the strength check.")
    name: Name
    password: NewPassword

    @field_validator("password")
    @classmethod
    def _hard_to_guess(cls, password: str, info: ValidationInfo) -> str:
        return _strong(password, [info.data.get("email", ""), info.data.get("name", "")])


class PasswordReset(StrictInput):
    email: str = Field(default="", max_length=320, description="The account's address, for the strength check.")
    new_password: NewPassword

    @field_validator("new_password")
    @classmethod
    def _hard_to_guess(cls, password: str, info: ValidationInfo) -> str:
        return _strong(password, [info.data.get("email", "")])


class PasswordChange(StrictInput):
    email: str = Field(default="", max_length=320, description="The account's address, for the strength check.")
    current_password: Annotated[str, Field(min_length=1, max_length=256)]
    new_password: NewPassword

    @field_validator("new_password")
    @classmethod
    def _hard_to_guess(cls, password: str, info: ValidationInfo) -> str:
        return _strong(password, [info.data.get("email", "")])


class ApiKeyCreate(StrictInput):
    name: Name
    role: Literal[Role.admin, Role.operator, Role.viewer] = Role.admin


class ApiKeyRead(Output):
    id: uuid.UUID
    name: str
    prefix: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(ApiKeyRead):
    key: str = Field(description="The whole key. Shown only now: store it, it cannot be read again.")


class WebhookUpdate(StrictInput):
    url: AnyHttpUrl = Field(description="Where replies of the API channel are POSTed.")


class WebhookRead(Output):
    url: str
    secret: str = Field(description="Signs every delivery (HMAC-SHA256). Shown only now.")


class TwoFactorStatus(Output):
    enabled: bool
    recovery_codes_left: int


class TwoFactorSetupRead(Output):
    secret: str = Field(description="For typing into the app by hand; the QR code carries the same.")
    otpauth_uri: str
    qr_svg: str = Field(description="The otpauth URI as an inline SVG QR code, rendered here (no outside service).")


class TwoFactorCode(StrictInput):
    code: Annotated[str, Field(min_length=1, max_length=32)]


class RecoveryCodesRead(Output):
    recovery_codes: list[str] = Field(description="Each works once in place of a code. Shown only now.")
