"""Telling staff about their conversations outside the dashboard: in their own Telegram, a chat linked through
the tenant's bot with a one-time deep link, and by e-mail when the platform has an SMTP server.

Other code calls `notify_staff` inside its own transaction. It defers one job per way the member wants that
kind of notice, so a notice goes out only if the change it tells of commits, each way is retried on its own
(a mail server that is down holds up no Telegram message), and a member who wants nothing costs one read.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Literal, Protocol, get_args

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.inbox import schemas
from easyflow.inbox.repository import NotificationRepository
from easyflow.kit.errors import Conflict, Unprocessable
from easyflow.kit.jobs import defer
from easyflow.kit.security import constant_time_equals, new_public_id, new_secret, sha256_hex, split_token
from easyflow.models.channels import ChannelRecord
from easyflow.models.notifications import StaffLinkToken, StaffNotificationPreferences
from easyflow.tenancy.repository import UserRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

Kind = Literal["waiting", "mention", "sla_breach", "booking"]
Via = Literal["telegram", "email"]
KINDS: tuple[Kind, ...] = get_args(Kind)

SEND_NOTICE_JOB = "inbox.send_notice"
ANSWER_LINK_JOB = "inbox.answer_telegram_link"
# `/start notify_<public id>_<secret>`: Telegram passes deep-link payloads of up to 64 characters of
# [A-Za-z0-9_-], which this is (44). A customer's /start that happens to begin so is a failed link, not a message.
LINK_KIND = "notify"
LINK_PREFIX = f"{LINK_KIND}_"
LINK_LIFETIME = timedelta(minutes=15)
# What a notice may quote of a note or an SLA rule: a notice points to the conversation, it does not replace it.
DETAIL_LIMIT = 500
DEFAULT_TELEGRAM_KINDS: list[str] = list(KINDS)  # linking Telegram is asking for notices there
DEFAULT_EMAIL_KINDS: list[str] = []  # e-mail only when the member turns it on


class StaffTelegram(Protocol):
    """What the Telegram channel does for notices. `channels.telegram` registers itself in STAFF_TELEGRAM, so
    the inbox never imports a channel (channels import the inbox, as they import conversations)."""

    async def send_to_staff(self, runtime: Runtime, channel: ChannelRecord, chat_id: int, text: str) -> bool:
        """Send `text` to the member's chat; False when the chat can never be reached (the bot was blocked)."""
        ...


STAFF_TELEGRAM: list[StaffTelegram] = []


async def notify_staff(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: Kind,
    conversation_id: uuid.UUID,
    detail: str = "",
) -> None:
    """Tell the member about the conversation in every way they want this kind of notice, once the caller's
    transaction commits: a conversation waiting for them, a mention, an SLA breach (`detail`: what to add,
    e.g. the note that named them or the target that was missed)."""
    notifications = NotificationRepository(session, tenant_id)
    for via in await wanted_ways(notifications, user_id, kind):
        await defer(
            session,
            SEND_NOTICE_JOB,
            tenant_id=str(tenant_id),
            user_id=str(user_id),
            kind=kind,
            conversation_id=str(conversation_id),
            detail=detail[:DETAIL_LIMIT],
            via=via,
        )


async def wanted_ways(notifications: NotificationRepository, user_id: uuid.UUID, kind: str) -> list[Via]:
    """Telegram when linked and wanted, e-mail when wanted (whether the platform sends e-mail at all is the
    job's to know: the settings are the process's, not the transaction's)."""
    preferences = await notifications.preferences_of(user_id)
    telegram_kinds, email_kinds = kinds_of(preferences)
    ways: list[Via] = []
    if kind in telegram_kinds and await notifications.link_of(user_id) is not None:
        ways.append("telegram")
    if kind in email_kinds:
        ways.append("email")
    return ways


def kinds_of(preferences: StaffNotificationPreferences | None) -> tuple[list[str], list[str]]:
    """(kinds wanted in Telegram, kinds wanted by e-mail)."""
    if preferences is None:
        return DEFAULT_TELEGRAM_KINDS, DEFAULT_EMAIL_KINDS
    return preferences.telegram_kinds, preferences.email_kinds


@dataclass(frozen=True)
class IssuedLink:
    url: str
    expires_at: datetime


class TelegramLinking:
    """Linking a member's own Telegram chat: a one-time deep link to the tenant's bot, spent by the `/start`
    it sends (webhook or long polling alike: both hand updates to `channels.webhooks.accept_update`)."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.notifications = NotificationRepository(session, tenant_id)

    async def issue(self, user_id: uuid.UUID) -> IssuedLink:
        bot = await self.notifications.telegram_bot()
        username = str(bot.config.get("username") or "") if bot is not None else ""
        if not username:
            raise Conflict(
                "This tenant has no connected Telegram bot to send notifications through: connect one first "
                '(POST /api/v1/channels with {"type": "telegram", "token": …}).'
            )
        public_id, secret = new_public_id(), new_secret(18)
        token = f"{LINK_PREFIX}{public_id}_{secret}"
        expires_at = datetime.now(UTC) + LINK_LIFETIME
        await self.notifications.replace_tokens(
            StaffLinkToken(user_id=user_id, public_id=public_id, token_hash=sha256_hex(token), expires_at=expires_at)
        )
        return IssuedLink(url=f"https://t.me/{username}?start={token}", expires_at=expires_at)

    async def redeem(self, channel_id: uuid.UUID, chat_id: int, payload: str, language_code: str | None) -> bool:
        """Spend the token of a `/start <payload>` the tenant's bot heard and link that chat to its member;
        either way the chat is answered (after commit). False when the token was unknown, spent or expired."""
        now = datetime.now(UTC)
        user_id = await self._spend(payload, now)
        if user_id is not None:
            await self.notifications.save_link(user_id, channel_id, chat_id, now)
        await defer(
            self.session,
            ANSWER_LINK_JOB,
            tenant_id=str(self.tenant_id),
            channel_id=str(channel_id),
            chat_id=chat_id,
            linked=user_id is not None,
            language_code=language_code,
        )
        return user_id is not None

    async def _spend(self, payload: str, now: datetime) -> uuid.UUID | None:
        parts = split_token(payload, LINK_KIND)
        if parts is None:
            return None
        public_id, token = parts
        stored = await self.notifications.token_for_update(public_id)
        if stored is None or not constant_time_equals(stored.token_hash, sha256_hex(token)):
            return None
        if stored.used_at is not None or stored.expires_at <= now:
            return None
        stored.used_at = now
        await self.session.flush()
        return stored.user_id

    async def unlink(self, user_id: uuid.UUID) -> None:
        await self.notifications.unlink(user_id)


def is_link_payload(start_payload: str) -> bool:
    """Whether a `/start` payload is a member linking notifications (not a customer's campaign code)."""
    return start_payload.startswith(LINK_PREFIX)


class NotificationSettings:
    """What a member has linked and which kinds of notice they want where."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID, *, email_available: bool) -> None:
        self.session = session
        self.notifications = NotificationRepository(session, tenant_id)
        self.email_available = email_available

    async def update(
        self, user_id: uuid.UUID, changes: schemas.NotificationPreferencesUpdate
    ) -> schemas.NotificationSettingsRead:
        """Switch kinds on or off (kinds not named keep their setting)."""
        telegram = changes.telegram.switches() if changes.telegram else {}
        email = changes.email.switches() if changes.email else {}
        if any(email.values()) and not self.email_available:
            raise Unprocessable("email: this platform sends no e-mail (its operator has not set up SMTP).")
        telegram_kinds, email_kinds = kinds_of(await self.notifications.preferences_of(user_id))
        await self.notifications.save_preferences(
            user_id, _switched(telegram_kinds, telegram), _switched(email_kinds, email)
        )
        return await self.view(user_id)

    async def view(self, user_id: uuid.UUID) -> schemas.NotificationSettingsRead:
        link = await self.notifications.link_of(user_id)
        bot = await self.notifications.telegram_bot(link.channel_id) if link is not None else None
        user = await UserRepository(self.session).get(user_id)
        telegram_kinds, email_kinds = kinds_of(await self.notifications.preferences_of(user_id))
        return schemas.NotificationSettingsRead(
            telegram=schemas.TelegramNotificationsRead(
                linked=link is not None,
                bot_username=str(bot.config.get("username") or "") or None if bot is not None else None,
                linked_at=link.linked_at if link is not None else None,
                kinds=_kinds_read(telegram_kinds),
            ),
            email=schemas.EmailNotificationsRead(
                available=self.email_available, address=user.email if user else "", kinds=_kinds_read(email_kinds)
            ),
        )


def _kinds_read(kinds: list[str]) -> schemas.NoticeKindsRead:
    return schemas.NoticeKindsRead.model_validate({kind: kind in kinds for kind in KINDS})


def _switched(kinds: list[str], switches: dict[str, bool]) -> list[str]:
    return [kind for kind in KINDS if switches.get(kind, kind in kinds)]
