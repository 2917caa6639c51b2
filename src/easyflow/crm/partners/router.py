"""HTTP routes of partners: the directory, and transfers of deals to them."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from easyflow.crm.partners import schemas
from easyflow.crm.partners.service import Partners, PartnerTransfers
from easyflow.kit.schemas import Limit, Offset, Page, QueryText
from easyflow.tenancy.auth import Admin, Operator, Session

router = APIRouter(prefix="/api/v1", tags=["crm"])


def _partners(request: Request, session: Session, tenant_id: uuid.UUID) -> Partners:
    state = request.app.state
    return Partners(session, tenant_id, state.runtime.secrets, allow_private=state.settings.allow_private_webhooks)


@router.get("/partners")
async def list_partners(
    request: Request,
    principal: Operator,
    session: Session,
    q: Annotated[QueryText, Query(max_length=200, description="In the name.")] = "",
    kind: Annotated[QueryText, Query(max_length=40, description="guide, hotel, transport, ...")] = "",
    limit: Limit = 50,
    offset: Offset = 0,
) -> Page[schemas.PartnerRead]:
    """The partners clients are handed to, by name."""
    items, total = await _partners(request, session, principal.tenant_id).page(
        query=q.strip() or None, kind=kind.strip() or None, limit=limit, offset=offset
    )
    return Page(items=items, total=total)


@router.post("/partners", status_code=status.HTTP_201_CREATED)
async def create_partner(
    body: schemas.PartnerCreate, request: Request, principal: Admin, session: Session
) -> schemas.PartnerRead:
    """A partner, and how transfers reach them (`reach_by`): `telegram` (`telegram_chat_id`: their chat with the
    workspace's bot, which they start first), `email`, or `webhook` (`webhook_url`, a public address; the
    answer carries its signing secret, shown only now: each POST is signed as the API channel's webhook)."""
    return await _partners(request, session, principal.tenant_id).create(body)


@router.get("/partners/{partner_id}")
async def get_partner(
    partner_id: uuid.UUID, request: Request, principal: Operator, session: Session
) -> schemas.PartnerRead:
    return await _partners(request, session, principal.tenant_id).get(partner_id)


@router.patch("/partners/{partner_id}")
async def update_partner(
    partner_id: uuid.UUID, body: schemas.PartnerUpdate, request: Request, principal: Admin, session: Session
) -> schemas.PartnerRead:
    """Change a partner; `null` clears an optional field. A new `webhook_url` comes with a new secret."""
    return await _partners(request, session, principal.tenant_id).update(partner_id, body)


@router.delete("/partners/{partner_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_partner(partner_id: uuid.UUID, request: Request, principal: Admin, session: Session) -> None:
    """Remove from the directory; transfers already made stay on their deals."""
    await _partners(request, session, principal.tenant_id).delete(partner_id)


def _transfers(request: Request, session: Session, tenant_id: uuid.UUID) -> PartnerTransfers:
    state = request.app.state
    return PartnerTransfers(
        session, tenant_id, state.runtime.secrets, email_available=bool(state.runtime.settings.smtp_host)
    )


@router.post("/deals/{deal_id}/transfers", status_code=status.HTTP_202_ACCEPTED)
async def transfer_deal(
    deal_id: uuid.UUID, body: schemas.TransferCreate, request: Request, principal: Operator, session: Session
) -> schemas.TransferRead:
    """Hand the deal to a partner: a summary (the client, the deal, dates, needs and budget, `note`) is sent
    their way with a link to acknowledge it; `status` goes from queued to sent, or to failed with `error`
    after retries. 422 naming `reach_by` when the partner cannot be reached."""
    return await _transfers(request, session, principal.tenant_id).transfer(
        deal_id, body.partner_id, body.note, principal.user_id
    )


@router.get("/deals/{deal_id}/transfers")
async def deal_transfers(
    deal_id: uuid.UUID, request: Request, principal: Operator, session: Session
) -> list[schemas.TransferRead]:
    """The deal's transfers to partners, newest first, with how each went and when it was acknowledged."""
    return await _transfers(request, session, principal.tenant_id).of_deal(deal_id)
