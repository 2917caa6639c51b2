"""Sending a transfer to its partner: the summary in the tenant's language (who, what, dates, needs and budget,
the note, the acknowledgement link), through the partner's way: a chat with the tenant's Telegram bot, e-mail
through the platform's SMTP server, or a signed POST to the partner's webhook.

What to send is read, and the attempt counted, in one short transaction; the sending happens outside any
transaction; its outcome is written in another. A failed attempt keeps its error and raises for the job to
retry with backoff; after the last one the transfer is `failed` with that error, never silently dropped."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import structlog

from easyflow.conversations.repository import ContactRepository
from easyflow.crm.funnel.repository import DealRepository
from easyflow.crm.partners.repository import PartnerRepository, TransferRepository
from easyflow.crm.partners.service import FAILED_EVENT, acknowledge_url
from easyflow.inbox.notices import Notice, language_of, send_email
from easyflow.inbox.notifications import STAFF_TELEGRAM
from easyflow.inbox.repository import NotificationRepository
from easyflow.kit.webhooks import post_signed
from easyflow.live.staff import queue_staff_event
from easyflow.models.channels import ChannelRecord
from easyflow.models.crm import Deal
from easyflow.models.crm_partners import Partner, PartnerTransfer, ReachBy, TransferStatus
from easyflow.tenancy.repository import TenantRepository

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

log = structlog.get_logger(__name__)

ERROR_LIMIT = 500
WEBHOOK_EVENT = "partner.transfer"

_WORDS = {
    "ru": {
        "subject": "Клиент от «{tenant}»: {contact}",
        "heading": "«{tenant}» передаёт вам клиента.",
        "client": "Клиент",
        "deal": "Сделка",
        "amount": "Сумма",
        "products": "Услуги",
        "dates": "Даты",
        "needs": "Пожелания",
        "budget": "Бюджет",
        "note": "Комментарий",
        "acknowledge": "Подтвердите, что приняли клиента",
        "no_name": "без имени",
    },
    "en": {
        "subject": "A client from {tenant}: {contact}",
        "heading": "{tenant} is handing a client over to you.",
        "client": "Client",
        "deal": "Deal",
        "amount": "Amount",
        "products": "Services",
        "dates": "Dates",
        "needs": "Needs",
        "budget": "Budget",
        "note": "Note",
        "acknowledge": "Please confirm you have taken the client",
        "no_name": "no name",
    },
}


class TransferNotDelivered(Exception):
    """The partner's way did not take the summary (a chat the bot cannot write to, no bot, no SMTP)."""


@dataclass(frozen=True)
class Summary:
    subject: str
    text: str
    payload: dict[str, Any]  # what a webhook receives
    # What the transfer keeps of it: all but the acknowledgement link, whose token is stored only hashed.
    kept: str


@dataclass(frozen=True)
class _Route:
    """Where one attempt goes, read in the transaction before it."""

    via: ReachBy
    bot: ChannelRecord | None = None
    chat_id: int | None = None
    email: str | None = None
    webhook_url: str | None = None
    webhook_secret: str | None = None


def _amount(amount: Decimal | None, currency: str) -> str | None:
    return f"{amount:f} {currency}" if amount is not None else None


def _product(product: dict[str, Any]) -> str:
    quantity = int(product.get("quantity") or 1)
    name = str(product.get("name") or "")
    return f"{name} × {quantity}" if quantity != 1 else name


def write_summary(
    language: str,
    *,
    tenant: str,
    contact_name: str,
    contact_phone: str | None,
    deal: Deal,
    note: str,
    link: str,
    transfer_id: uuid.UUID,
) -> Summary:
    words = _WORDS[language]
    who = contact_name.strip() or words["no_name"]
    lines = [words["heading"].format(tenant=tenant), ""]
    lines.append(f"{words['client']}: {who}" + (f", {contact_phone}" if contact_phone else ""))
    lines.append(f"{words['deal']}: {deal.title}")
    amount = _amount(deal.amount, deal.currency)
    if amount:
        lines.append(f"{words['amount']}: {amount}")
    if deal.products:
        lines.append(f"{words['products']}: " + "; ".join(_product(product) for product in deal.products))
    qualification = deal.qualification or {}
    for key in ("dates", "needs", "budget"):
        if str(qualification.get(key) or "").strip():
            lines.append(f"{words[key]}: {qualification[key]}")
    if note.strip():
        lines.append(f"{words['note']}: {note.strip()}")
    kept = "\n".join(lines)
    lines += ["", f"{words['acknowledge']}: {link}"]
    payload = {
        "event": WEBHOOK_EVENT,
        "transfer_id": str(transfer_id),
        "from": tenant,
        "language": language,
        "contact": {"name": contact_name, "phone": contact_phone},
        "deal": {
            "id": str(deal.id),
            "title": deal.title,
            "amount": f"{deal.amount:f}" if deal.amount is not None else None,
            "currency": deal.currency,
            "products": deal.products,
            "qualification": {key: qualification.get(key) for key in ("needs", "budget", "dates")},
        },
        "note": note,
        "summary": "\n".join(lines),
        # POST here (empty body) to acknowledge; a person opening it gets a page with a button.
        "acknowledge_url": link,
    }
    return Summary(words["subject"].format(tenant=tenant, contact=who), "\n".join(lines), payload, kept)


async def send_transfer(runtime: Runtime, tenant_id: uuid.UUID, transfer_id: uuid.UUID, token: str) -> None:
    """One attempt at sending the transfer (nothing when it is no longer queued: a repeated job)."""
    prepared = await _prepare(runtime, tenant_id, transfer_id, token)
    if prepared is None:
        return
    route, summary = prepared
    try:
        await _deliver(runtime, route, summary, transfer_id)
    except Exception as error:
        async with runtime.database.tenant_transaction(tenant_id) as session:
            await TransferRepository(session, tenant_id).record_error(transfer_id, _reason(error), final=False)
        raise
    async with runtime.database.tenant_transaction(tenant_id) as session:
        await TransferRepository(session, tenant_id).mark_sent(transfer_id, now=datetime.now(UTC))


async def give_up(runtime: Runtime, tenant_id: uuid.UUID, transfer_id: uuid.UUID, error: Exception) -> None:
    """After the last attempt: the transfer is `failed`, with the error, and the staff hear of it."""
    async with runtime.database.tenant_transaction(tenant_id) as session:
        await _fail(session, tenant_id, transfer_id, _reason(error))


def _reason(error: Exception) -> str:
    return (str(error) or type(error).__name__)[:ERROR_LIMIT]


async def _fail(session: Any, tenant_id: uuid.UUID, transfer_id: uuid.UUID, reason: str) -> None:
    transfers = TransferRepository(session, tenant_id)
    if await transfers.record_error(transfer_id, reason, final=True):
        transfer = await transfers.get(transfer_id)
        assert transfer is not None
        queue_staff_event(
            session,
            tenant_id,
            FAILED_EVENT,
            {
                "deal_id": str(transfer.deal_id),
                "transfer_id": str(transfer_id),
                "partner_name": transfer.partner_name,
                "error": reason,
            },
        )
        log.warning("crm.transfer_failed", tenant_id=str(tenant_id), transfer_id=str(transfer_id))


async def _prepare(
    runtime: Runtime, tenant_id: uuid.UUID, transfer_id: uuid.UUID, token: str
) -> tuple[_Route, Summary] | None:
    async with runtime.database.tenant_transaction(tenant_id) as session:
        transfers = TransferRepository(session, tenant_id)
        transfer = await transfers.get_for_update(transfer_id)
        if transfer is None or transfer.status != TransferStatus.queued:
            return None
        partner = await PartnerRepository(session, tenant_id).get(transfer.partner_id) if transfer.partner_id else None
        deal = await DealRepository(session, tenant_id).get(transfer.deal_id)
        tenant = await TenantRepository(session).get(tenant_id)
        if partner is None or partner.reach_by is None or deal is None or tenant is None:
            # Nothing to retry: the partner was removed, or can no longer be reached, since the transfer.
            await _fail(session, tenant_id, transfer_id, "the partner was removed or has no way to be reached")
            return None
        contact = await ContactRepository(session, tenant_id).get(deal.contact_id)
        summary = write_summary(
            language_of(tenant.default_language),
            tenant=tenant.name,
            contact_name=contact.name if contact else "",
            contact_phone=contact.phone if contact else None,
            deal=deal,
            note=transfer.note,
            link=acknowledge_url(runtime.settings.public_url, token),
            transfer_id=transfer.id,
        )
        route = await _route(runtime, session, tenant_id, partner)
        _count_attempt(transfer, partner, summary)
    return route, summary


def _count_attempt(transfer: PartnerTransfer, partner: Partner, summary: Summary) -> None:
    transfer.attempts += 1
    transfer.sent_via = partner.reach_by
    transfer.summary = summary.kept


async def _route(runtime: Runtime, session: Any, tenant_id: uuid.UUID, partner: Partner) -> _Route:
    assert partner.reach_by is not None
    if partner.reach_by == ReachBy.telegram:
        bot = await NotificationRepository(session, tenant_id).telegram_bot()
        return _Route(ReachBy.telegram, bot=bot, chat_id=partner.telegram_chat_id)
    if partner.reach_by == ReachBy.email:
        return _Route(ReachBy.email, email=partner.email)
    secret = partner.webhook_secret_encrypted
    return _Route(
        ReachBy.webhook,
        webhook_url=partner.webhook_url,
        webhook_secret=runtime.secrets.decrypt(secret) if secret else None,
    )


async def _deliver(runtime: Runtime, route: _Route, summary: Summary, transfer_id: uuid.UUID) -> None:
    settings = runtime.settings
    if route.via == ReachBy.telegram:
        if route.bot is None or route.chat_id is None:
            raise TransferNotDelivered("this workspace has no connected Telegram bot to write to the partner with")
        if not STAFF_TELEGRAM:
            raise RuntimeError("no Telegram channel registered: import easyflow.channels.telegram (see wiring.py)")
        if not await STAFF_TELEGRAM[0].send_to_staff(runtime, route.bot, route.chat_id, summary.text):
            raise TransferNotDelivered(
                "the bot cannot write to the partner's Telegram chat: they must start the bot (and not block it)"
            )
    elif route.via == ReachBy.email:
        if not settings.smtp_host or not route.email:
            raise TransferNotDelivered("this platform sends no e-mail (its operator has not set up SMTP)")
        await send_email(settings, route.email, Notice(subject=summary.subject, text=summary.text))
    else:
        if not route.webhook_url or not route.webhook_secret:
            raise TransferNotDelivered("the partner has no webhook")
        await post_signed(
            runtime.http,
            route.webhook_url,
            secret=route.webhook_secret,
            body=json.dumps(summary.payload, ensure_ascii=False, separators=(",", ":")).encode(),
            idempotency_key=str(transfer_id),
            allow_private=settings.allow_private_webhooks,
            field="webhook_url",
        )
