"""Two-factor sign-in with a TOTP app (RFC 6238, pyotp) and single-use recovery codes.

Setting it up: `begin` makes a secret (shown as a QR code, rendered here by segno, and as text to type in),
`confirm` turns it on once the app's first code is right and hands out ten recovery codes, shown that once and
kept hashed. Signing in then needs a code: `check` accepts a current TOTP code (never the same 30-second step
twice) or an unused recovery code. Five wrong codes within fifteen minutes make the account wait out the rest of
those fifteen minutes, counted in the database so every process and a restart agree.
"""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyotp
import segno
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.config import Settings
from easyflow.kit.crypto import SecretBox
from easyflow.kit.errors import Conflict, Forbidden, InvalidInput, RateLimited, Unauthorized
from easyflow.kit.security import sha256_hex
from easyflow.models.tenancy import TwoFactorCredential, User
from easyflow.tenancy.repository import TwoFactorRepository

ISSUER = "easyflow"
RECOVERY_CODES = 10
RECOVERY_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I: read aloud and typed from paper
RECOVERY_CODE_LENGTH = 10
MAX_FAILURES = 5
FAILURE_WINDOW = timedelta(minutes=15)
# One step before and after the current one: a phone clock 30 s off still works.
VALID_WINDOW_STEPS = 1


class WrongCode(Unauthorized):
    keep_changes = True  # the failure must be counted although the request fails


class TwoFactorRequired(Unauthorized):
    slug = "two-factor-required"


class TwoFactorSetupRequired(Forbidden):
    """The tenant requires two-factor sign-in and this member has not set it up yet."""

    slug = "two-factor-setup-required"


@dataclass(frozen=True)
class Setup:
    secret: str
    otpauth_uri: str
    qr_svg: str


def _now() -> datetime:
    return datetime.now(UTC)


def normalized(code: str) -> str:
    """What a person typed, as compared: spaces and dashes dropped, upper case (recovery codes)."""
    return "".join(code.split()).replace("-", "").upper()


def new_recovery_code() -> str:
    raw = "".join(secrets.choice(RECOVERY_ALPHABET) for _ in range(RECOVERY_CODE_LENGTH))
    return f"{raw[:5]}-{raw[5:]}"


def _setup(user: User, secret: str) -> Setup:
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.email, issuer_name=ISSUER)
    return Setup(secret=secret, otpauth_uri=uri, qr_svg=segno.make(uri, error="m").svg_inline(scale=4))


class TwoFactorService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.repository = TwoFactorRepository(session)
        self.box = SecretBox.from_settings(settings)

    async def enabled(self, user_id: uuid.UUID) -> bool:
        credential = await self.repository.credential(user_id)
        return credential is not None and credential.confirmed_at is not None

    async def status(self, user_id: uuid.UUID) -> tuple[bool, int]:
        """Whether it is on, and how many recovery codes are left unused."""
        return await self.enabled(user_id), await self.repository.unused_recovery_codes(user_id)

    async def begin(self, user: User) -> Setup:
        """A new secret waiting for its first code; refused while two-factor is on (turn it off first)."""
        if await self.enabled(user.id):
            raise Conflict("Two-factor sign-in is already on; turn it off with a code first.")
        secret = pyotp.random_base32()
        await self.repository.replace(
            TwoFactorCredential(user_id=user.id, secret_encrypted=self.box.encrypt(secret), failed_attempts=0)
        )
        return _setup(user, secret)

    async def pending(self, user: User) -> Setup | None:
        """The setup begun and not yet confirmed, shown again (after a wrong first code, say)."""
        credential = await self.repository.credential(user.id)
        if credential is None or credential.confirmed_at is not None:
            return None
        return _setup(user, self.box.decrypt(credential.secret_encrypted))

    async def confirm(self, user_id: uuid.UUID, code: str) -> list[str]:
        """Turn two-factor on with the app's first code; return the recovery codes (shown only now)."""
        credential = await self.repository.credential(user_id, for_update=True)
        if credential is None:
            raise InvalidInput("Start setting up two-factor sign-in first.")
        if credential.confirmed_at is not None:
            raise Conflict("Two-factor sign-in is already on.")
        self._wait_if_locked(credential)
        await self._totp_or_fail(credential, normalized(code))
        credential.confirmed_at = _now()
        codes = [new_recovery_code() for _ in range(RECOVERY_CODES)]
        await self.repository.add_recovery_codes(user_id, [sha256_hex(normalized(code)) for code in codes])
        return codes

    async def disable(self, user_id: uuid.UUID, code: str, *, required_by_tenant: bool) -> None:
        """Turn it off; needs a code, so a stolen session alone cannot, and a workspace that requires it
        for every member keeps it on."""
        if required_by_tenant:
            raise Forbidden("Your workspace requires two-factor sign-in, so it cannot be turned off.")
        await self.check(user_id, code)
        await self.repository.remove(user_id)

    async def check(self, user_id: uuid.UUID, code: str | None) -> str:
        """Pass when two-factor is off or `code` is right; return how ("off", "totp", "recovery_code")."""
        credential = await self.repository.credential(user_id, for_update=True)
        if credential is None or credential.confirmed_at is None:
            return "off"
        if not code:
            raise TwoFactorRequired("This account signs in with a two-factor code: send it as `code`.")
        self._wait_if_locked(credential)
        typed = normalized(code)
        if typed.isdigit():
            await self._totp_or_fail(credential, typed)
            return "totp"
        if await self.repository.use_recovery_code(user_id, sha256_hex(typed), _now()):
            credential.failed_attempts = 0
            return "recovery_code"
        self._count_failure(credential)
        raise WrongCode("Wrong or used code.")

    async def _totp_or_fail(self, credential: TwoFactorCredential, code: str) -> None:
        """Accept a normalized TOTP code of the current step or one beside it, never one used before."""
        totp = pyotp.TOTP(self.box.decrypt(credential.secret_encrypted))
        now = _now()
        step = totp.timecode(now)
        accepted = next(
            (
                candidate
                for candidate in range(step - VALID_WINDOW_STEPS, step + VALID_WINDOW_STEPS + 1)
                if (credential.last_used_step is None or candidate > credential.last_used_step)
                and secrets.compare_digest(totp.generate_otp(candidate), code)
            ),
            None,
        )
        if accepted is None:
            self._count_failure(credential)
            raise WrongCode("Wrong or used code.")
        credential.last_used_step = accepted
        credential.failed_attempts = 0

    @staticmethod
    def _wait_if_locked(credential: TwoFactorCredential) -> None:
        if credential.failed_attempts < MAX_FAILURES or credential.failed_since is None:
            return
        wait = credential.failed_since + FAILURE_WINDOW - _now()
        if wait > timedelta(0):
            raise RateLimited(
                "Too many wrong codes; wait before trying again.", retry_after=int(wait.total_seconds()) + 1
            )

    @staticmethod
    def _count_failure(credential: TwoFactorCredential) -> None:
        now = _now()
        if credential.failed_since is None or now - credential.failed_since > FAILURE_WINDOW:
            credential.failed_attempts, credential.failed_since = 0, now
        credential.failed_attempts += 1
