"""Writing and sending a notice to a member: a few lines in their language (the tenant's) that say what
happened, whose conversation it is, what the customer last wrote, and the dashboard link; sent to their linked
Telegram chat through the tenant's bot, or by e-mail through the platform's SMTP server."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiosmtplib
import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.conversations.repository import ConversationRepository
from easyflow.inbox.notifications import STAFF_TELEGRAM, StaffTelegram, kinds_of
from easyflow.inbox.repository import NotificationRepository
from easyflow.models.channels import ChannelRecord
from easyflow.models.tenancy import Role
from easyflow.tenancy.repository import MembershipRepository, TenantRepository

if TYPE_CHECKING:
    from easyflow.config import Settings
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

SMTP_TIMEOUT_SECONDS = 20.0
QUOTE_LIMIT = 300

_TITLES = {
    "ru": {
        "waiting": "Вас ждёт разговор с {contact}",
        "mention": "Вас упомянули в разговоре с {contact}",
        "sla_breach": "Нарушен срок SLA в разговоре с {contact}",
    },
    "en": {
        "waiting": "A conversation with {contact} is waiting for you",
        "mention": "You were mentioned in the conversation with {contact}",
        "sla_breach": "SLA missed in the conversation with {contact}",
    },
}
_WORDS = {
    "ru": {"customer": "клиентом", "wrote": "Клиент написал", "note": "Заметка", "open": "Открыть"},
    "en": {"customer": "a customer", "wrote": "The customer wrote", "note": "Note", "open": "Open"},
}
_CHANNELS = {
    "ru": {"telegram": "Telegram", "widget": "чат на сайте", "api": "API"},
    "en": {"telegram": "Telegram", "widget": "website chat", "api": "API"},
}
LINK_ANSWERS = {
    "ru": {
        True: "Уведомления подключены: сюда придут разговоры, которые ждут вас, упоминания и нарушения SLA.",
        False: "Эта ссылка для уведомлений недействительна или устарела. Получите новую в панели easyflow.",
    },
    "en": {
        True: "Notifications are on: conversations waiting for you, mentions and SLA breaches will come here.",
        False: "This notifications link is invalid or has expired. Get a new one in the easyflow dashboard.",
    },
}


def language_of(code: str | None) -> str:
    """The language of our texts closest to `code` (a tenant's default_language, a Telegram language_code)."""
    return "en" if code and code.lower().startswith("en") else "ru"


@dataclass(frozen=True)
class Notice:
    subject: str
    text: str


@dataclass(frozen=True)
class Recipient:
    """Where one notice goes: a linked chat (with the bot that can write to it) or an e-mail address."""

    email: str | None = None
    bot: ChannelRecord | None = None
    chat_id: int | None = None


def write_notice(
    language: str, kind: str, *, contact: str, channel_type: str, quote: str | None, detail: str, url: str
) -> Notice:
    words = _WORDS[language]
    subject = _TITLES[language][kind].format(contact=contact or words["customer"])
    lines = [f"{subject} ({_CHANNELS[language].get(channel_type, channel_type)})"]
    if kind == "mention" and detail:
        lines.append(f"{words['note']}: {_shortened(detail)}")
    elif detail:
        lines.append(_shortened(detail))
    if quote:
        lines.append(f"{words['wrote']}: «{_shortened(quote)}»")
    lines.append(f"{words['open']}: {url}")
    return Notice(subject=subject, text="\n".join(lines))


def _shortened(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= QUOTE_LIMIT else text[: QUOTE_LIMIT - 1].rstrip() + "…"


async def send_notice(
    runtime: Runtime,
    *,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    kind: str,
    conversation_id: uuid.UUID,
    detail: str,
    via: str,
) -> None:
    """One way of one notice. What to say and where is read afresh: a member who left the tenant, unlinked or
    switched the kind off since it was deferred gets nothing. A failure raises, for the job to retry."""
    settings = runtime.settings
    if via == "email" and not settings.smtp_host:
        return
    async with runtime.database.tenant_transaction(tenant_id) as session:
        notifications = NotificationRepository(session, tenant_id)
        recipient = await member_recipient(session, tenant_id, user_id, kind, via)
        found = await ConversationRepository(session, tenant_id).with_contact(conversation_id)
        tenant = await TenantRepository(session).get(tenant_id)
        if recipient is None or found is None or tenant is None:
            return
        conversation, contact = found
        notice = write_notice(
            language_of(tenant.default_language),
            kind,
            contact=contact.name,
            channel_type=conversation.channel_type,
            quote=await notifications.last_customer_text(conversation_id),
            detail=detail,
            url=f"{settings.public_url}/app/conversations/{conversation_id}",
        )
    await deliver_notice(runtime, tenant_id, user_id, recipient, notice)


async def member_recipient(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, kind: str, via: str
) -> Recipient | None:
    """Where one way of a notice of `kind` reaches the member now (None: they left the tenant, are no longer an
    operator, unlinked their chat or switched the kind off since the notice was deferred)."""
    notifications = NotificationRepository(session, tenant_id)
    member = await MembershipRepository(session, tenant_id).member(user_id)
    if member is None or not member[0].role.at_least(Role.operator):
        return None
    telegram_kinds, email_kinds = kinds_of(await notifications.preferences_of(user_id))
    if kind not in (telegram_kinds if via == "telegram" else email_kinds):
        return None
    if via == "email":
        return Recipient(email=member[1].email)
    link = await notifications.link_of(user_id)
    bot = await notifications.telegram_bot(link.channel_id) if link is not None else None
    if link is None or bot is None:
        return None
    return Recipient(bot=bot, chat_id=link.chat_id)


async def deliver_notice(
    runtime: Runtime, tenant_id: uuid.UUID, user_id: uuid.UUID, recipient: Recipient, notice: Notice
) -> None:
    """Send it; a chat that can never be reached again (the bot was blocked) is unlinked. A failure raises, for
    the job to retry."""
    if recipient.bot is not None and recipient.chat_id is not None:
        if not await _telegram().send_to_staff(runtime, recipient.bot, recipient.chat_id, notice.text):
            await _forget_unreachable_chat(runtime, tenant_id, user_id)
    elif recipient.email:
        await send_email(runtime.settings, recipient.email, notice)


async def answer_link(
    runtime: Runtime,
    *,
    tenant_id: uuid.UUID,
    channel_id: uuid.UUID,
    chat_id: int,
    linked: bool,
    language_code: str | None,
) -> None:
    """Tell the chat that sent `/start <token>` whether it is linked now, in its own language when it is ours."""
    async with runtime.database.tenant_transaction(tenant_id) as session:
        bot = await NotificationRepository(session, tenant_id).telegram_bot(channel_id)
        tenant = await TenantRepository(session).get(tenant_id)
    if bot is None or tenant is None:
        return
    known = language_code if language_code and language_code[:2].lower() in LINK_ANSWERS else None
    text = LINK_ANSWERS[language_of(known or tenant.default_language)][linked]
    await _telegram().send_to_staff(runtime, bot, chat_id, text)


async def send_email(settings: Settings, address: str, notice: Notice) -> None:
    """One plain-text UTF-8 message through the configured SMTP server (encrypted whenever the server can)."""
    domain = urlsplit(settings.public_url).hostname or "localhost"
    message = EmailMessage()
    message["From"] = settings.smtp_from or f"noreply@{domain}"
    message["To"] = address
    # A customer's name may carry line breaks, which a header cannot: one line, spaces collapsed.
    message["Subject"] = " ".join(notice.subject.split())
    # Mail servers score messages without these as spam; the SMTP client does not add them.
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=domain)
    message.set_content(notice.text)
    await aiosmtplib.send(
        message,
        hostname=settings.smtp_host,
        port=settings.smtp_port,
        username=settings.smtp_username,
        password=settings.smtp_password.get_secret_value() if settings.smtp_password else None,
        start_tls=settings.smtp_starttls,
        use_tls=settings.smtp_tls,
        timeout=SMTP_TIMEOUT_SECONDS,
    )


async def _forget_unreachable_chat(runtime: Runtime, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
    log.info("inbox.notice_chat_unreachable", tenant_id=str(tenant_id), user_id=str(user_id))
    async with runtime.database.tenant_transaction(tenant_id) as session:
        await NotificationRepository(session, tenant_id).unlink(user_id)


def _telegram() -> StaffTelegram:
    if not STAFF_TELEGRAM:
        raise RuntimeError("no Telegram channel registered: import easyflow.channels.telegram (see wiring.py)")
    return STAFF_TELEGRAM[0]
