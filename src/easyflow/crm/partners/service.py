"""The partner directory (who the business hands clients to and how to reach them), transferring a deal to a
partner (sent by the `crm.send_transfer` job once the request commits), and the partner's acknowledgement
through the link the summary carries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from easyflow.crm.funnel.repository import DealRepository
from easyflow.crm.partners import schemas
from easyflow.crm.partners.repository import PartnerRepository, TransferRepository, token_holder
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.inbox.repository import NotificationRepository
from easyflow.kit.crypto import SecretBox
from easyflow.kit.destinations import check_public_destination
from easyflow.kit.errors import NotFound, Unprocessable
from easyflow.kit.jobs import defer
from easyflow.kit.security import new_secret, sha256_hex
from easyflow.live.staff import queue_staff_event
from easyflow.models.crm import Deal
from easyflow.models.crm_partners import Partner, PartnerTransfer, ReachBy, TransferStatus
from easyflow.tenancy.repository import TenantRepository

SEND_TRANSFER_JOB = "crm.send_transfer"
TRANSFERRED_EVENT = "crm.deal_transferred"
ACKNOWLEDGED_EVENT = "crm.transfer_acknowledged"
FAILED_EVENT = "crm.transfer_failed"
ACKNOWLEDGE_PATH = "/partners/acknowledge/"
# What an acknowledgement token looks like (`new_secret(24)`: 32 URL-safe characters); anything else is not one.
TOKEN_BYTES = 24
MAX_TOKEN_CHARS = 64
# What each way of reaching a partner needs filled in.
NEEDED_FOR = {ReachBy.telegram: "telegram_chat_id", ReachBy.email: "email", ReachBy.webhook: "webhook_url"}


def read_partner(partner: Partner, *, webhook_secret: str | None = None) -> schemas.PartnerRead:
    read = schemas.PartnerRead.model_validate(partner)
    read.webhook_secret = webhook_secret
    return read


def acknowledge_url(public_url: str, token: str) -> str:
    return f"{public_url.rstrip('/')}{ACKNOWLEDGE_PATH}{token}"


class Partners:
    """The directory: who the business hands clients to, and how each is reached."""

    def __init__(self, session: AsyncSession, tenant_id: uuid.UUID, secrets: SecretBox, *, allow_private: bool) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.secrets = secrets
        self.allow_private = allow_private
        self.partners = PartnerRepository(session, tenant_id)

    async def page(
        self, *, query: str | None, kind: str | None, limit: int, offset: int
    ) -> tuple[list[schemas.PartnerRead], int]:
        rows, total = await self.partners.page(query=query, kind=kind, limit=limit, offset=offset)
        return [read_partner(row) for row in rows], total

    async def get(self, partner_id: uuid.UUID) -> schemas.PartnerRead:
        return read_partner(await self._partner(partner_id))

    async def create(self, body: schemas.PartnerCreate) -> schemas.PartnerRead:
        partner = Partner(
            name=body.name,
            kind=body.kind,
            phone=body.phone,
            email=str(body.email) if body.email else None,
            notes=body.notes,
            reach_by=body.reach_by,
            telegram_chat_id=body.telegram_chat_id,
        )
        secret = await self._set_webhook(partner, str(body.webhook_url) if body.webhook_url else None)
        _check_reachable(partner)
        await self.partners.add(partner)
        return read_partner(partner, webhook_secret=secret)

    async def update(self, partner_id: uuid.UUID, body: schemas.PartnerUpdate) -> schemas.PartnerRead:
        """Change what is given; `null` clears an optional field (phone, email, reach_by, the chat, the webhook).
        A new webhook URL gets a new signing secret."""
        partner = await self._partner(partner_id)
        fields = body.model_fields_set
        for name in ("name", "kind", "notes"):
            if name in fields and getattr(body, name) is not None:
                setattr(partner, name, getattr(body, name))
        for name in ("phone", "reach_by", "telegram_chat_id"):
            if name in fields:
                setattr(partner, name, getattr(body, name))
        if "email" in fields:
            partner.email = str(body.email) if body.email else None
        secret = None
        if "webhook_url" in fields:
            url = str(body.webhook_url) if body.webhook_url else None
            if url != partner.webhook_url:
                secret = await self._set_webhook(partner, url)
        _check_reachable(partner)
        await self.session.flush()
        return read_partner(partner, webhook_secret=secret)

    async def delete(self, partner_id: uuid.UUID) -> None:
        """Gone from the directory; its transfers stay on their deals, with its name."""
        await self.partners.delete(await self._partner(partner_id))

    async def _partner(self, partner_id: uuid.UUID) -> Partner:
        partner = await self.partners.get(partner_id)
        if partner is None:
            raise NotFound("Partner not found.")
        return partner

    async def _set_webhook(self, partner: Partner, url: str | None) -> str | None:
        """Point the partner's webhook at `url` (a public address) with a new secret, returned to be shown once."""
        if url is None:
            partner.webhook_url = partner.webhook_secret_encrypted = None
            return None
        await check_public_destination(url, allow_private=self.allow_private, field="webhook_url")
        secret = new_secret()
        partner.webhook_url = url
        partner.webhook_secret_encrypted = self.secrets.encrypt(secret)
        return secret


def _check_reachable(partner: Partner) -> None:
    if partner.reach_by is not None:
        needed = NEEDED_FOR[partner.reach_by]
        if getattr(partner, needed) is None:
            raise Unprocessable(f"reach_by: {partner.reach_by.value} needs {needed}.")


def read_transfer(transfer: PartnerTransfer) -> schemas.TransferRead:
    return schemas.TransferRead.model_validate(transfer)


class PartnerTransfers:
    """Handing a deal to a partner. The board calls `transfer` as the API does."""

    def __init__(
        self, session: AsyncSession, tenant_id: uuid.UUID, secrets: SecretBox, *, email_available: bool
    ) -> None:
        self.session = session
        self.tenant_id = tenant_id
        self.secrets = secrets
        self.email_available = email_available
        self.transfers = TransferRepository(session, tenant_id)

    async def transfer(
        self, deal_id: uuid.UUID, partner_id: uuid.UUID, note: str, by_user: uuid.UUID | None
    ) -> schemas.TransferRead:
        """Queue the summary of the deal for the partner (sent after commit, retried, `failed` with the error
        after the last attempt); the deal's watchers hear of it at once."""
        deal = await self._deal(deal_id)
        partner = await PartnerRepository(self.session, self.tenant_id).get(partner_id)
        if partner is None:
            raise Unprocessable("partner_id is not a partner of this workspace.")
        await self._check_way(partner)
        # The link's token is stored hashed; the job gets it sealed with the platform's keys, to put in the
        # summary on each attempt (the same link every time), and it is gone with the job.
        token = new_secret(TOKEN_BYTES)
        transfer = await self.transfers.add(
            PartnerTransfer(
                deal_id=deal.id,
                partner_id=partner.id,
                partner_name=partner.name,
                note=note,
                created_by=by_user,
                status=TransferStatus.queued,
                summary="",
                attempts=0,
                ack_token_hash=sha256_hex(token),
            )
        )
        await defer(
            self.session,
            SEND_TRANSFER_JOB,
            tenant_id=str(self.tenant_id),
            transfer_id=str(transfer.id),
            sealed_token=self.secrets.encrypt(token),
        )
        queue_staff_event(
            self.session,
            self.tenant_id,
            TRANSFERRED_EVENT,
            {
                "deal_id": str(deal.id),
                "transfer_id": str(transfer.id),
                "partner_id": str(partner.id),
                "partner_name": partner.name,
                "user_id": str(by_user) if by_user else None,
            },
        )
        await self.session.refresh(transfer)
        return read_transfer(transfer)

    async def of_deal(self, deal_id: uuid.UUID) -> list[schemas.TransferRead]:
        """The deal's transfers, newest first."""
        await self._deal(deal_id)
        return [read_transfer(transfer) for transfer in await self.transfers.of_deal(deal_id)]

    async def _deal(self, deal_id: uuid.UUID) -> Deal:
        deal = await DealRepository(self.session, self.tenant_id).get(deal_id)
        if deal is None:
            raise NotFound("Deal not found.")
        return deal

    async def _check_way(self, partner: Partner) -> None:
        if partner.reach_by is None:
            raise Unprocessable(
                "reach_by: this partner has no way to be reached; set reach_by (telegram, email or webhook) first."
            )
        if (
            partner.reach_by == ReachBy.telegram
            and await NotificationRepository(self.session, self.tenant_id).telegram_bot() is None
        ):
            raise Unprocessable("reach_by: telegram, but this workspace has no connected Telegram bot to write with.")
        if partner.reach_by == ReachBy.email and not self.email_available:
            raise Unprocessable(
                "reach_by: email, but this platform sends no e-mail (its operator has not set up SMTP)."
            )


@dataclass(frozen=True)
class Acknowledgement:
    """What the acknowledgement page shows: whose client it is, and whether (since when) it is acknowledged."""

    transfer_id: uuid.UUID
    tenant_name: str
    language: str
    partner_name: str
    deal_title: str
    acknowledged_at: datetime | None


class Acknowledgements:
    """The partner's side of a transfer, reached by the link's token alone (no account): reading never writes
    (mail scanners follow links), confirming does, once."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def find(self, token: str) -> Acknowledgement | None:
        transfer = await self._transfer(token)
        return await self._view(transfer) if transfer is not None else None

    async def acknowledge(self, token: str, now: datetime | None = None) -> Acknowledgement | None:
        """Record the acknowledgement (again: nothing changes); None for an unknown token."""
        transfer = await self._transfer(token)
        if transfer is None:
            return None
        transfers = TransferRepository(self.session, transfer.tenant_id)
        if await transfers.acknowledge(transfer.id, now or datetime.now(UTC)):
            await self.session.refresh(transfer)
            queue_staff_event(
                self.session,
                transfer.tenant_id,
                ACKNOWLEDGED_EVENT,
                {
                    "deal_id": str(transfer.deal_id),
                    "transfer_id": str(transfer.id),
                    "partner_name": transfer.partner_name,
                },
            )
        return await self._view(transfer)

    async def _transfer(self, token: str) -> PartnerTransfer | None:
        if not token or len(token) > MAX_TOKEN_CHARS:
            return None
        # Found by the token's hash (an index look-up, nothing to compare by hand); the link names no tenant,
        # so the look-up alone is system-wide and everything after it is scoped to the tenant found.
        await enter_system_scope(self.session)
        holder = await token_holder(self.session, sha256_hex(token))
        if holder is None:
            return None
        await scope_to_tenant(self.session, holder.tenant_id)
        return await TransferRepository(self.session, holder.tenant_id).get(holder.transfer_id)

    async def _view(self, transfer: PartnerTransfer) -> Acknowledgement:
        tenant = await TenantRepository(self.session).get(transfer.tenant_id)
        deal = await DealRepository(self.session, transfer.tenant_id).get(transfer.deal_id)
        return Acknowledgement(
            transfer_id=transfer.id,
            tenant_name=tenant.name if tenant else "",
            language=tenant.default_language if tenant else "ru",
            partner_name=transfer.partner_name,
            deal_title=deal.title if deal else "",
            acknowledged_at=transfer.acknowledged_at,
        )
