"""Steps the CRM contact tests share: a customer writing in (which makes their contact), and reading it back."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from easyflow.conversations.accept import ChannelRef, Inbound, InboundService
from easyflow.db.database import Database
from tests.conftest import TenantFixture

API = ChannelRef(type="api", key="api")


async def customer_writes(
    database: Database,
    tenant: TenantFixture,
    external_id: str,
    text: str = "Здравствуйте",
    *,
    name: str | None = None,
    phone: str | None = None,
    channel: ChannelRef = API,
    kind: str = "api",
) -> uuid.UUID:
    """A customer's message through the API channel (or `channel`), known by `external_id`; the conversation."""
    accepted = await InboundService(database, tenant.id).accept(
        channel,
        Inbound(
            identity_kind=kind,
            contact_external_id=external_id,
            contact_name=name,
            contact_phone=phone,
            text=text,
            external_message_id=uuid.uuid4().hex,
        ),
    )
    return accepted.conversation_id


async def new_contact(
    client: httpx.AsyncClient,
    database: Database,
    tenant: TenantFixture,
    external_id: str,
    *,
    name: str | None = None,
    phone: str | None = None,
) -> str:
    """A contact made by their first message; their id."""
    conversation_id = await customer_writes(database, tenant, external_id, name=name, phone=phone)
    response = await client.get(f"/api/v1/conversations/{conversation_id}", headers=tenant.headers)
    return str(response.json()["contact"]["id"])


async def contact(client: httpx.AsyncClient, tenant: TenantFixture, contact_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/v1/contacts/{contact_id}", headers=tenant.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def names(page: httpx.Response) -> set[str]:
    assert page.status_code == 200, page.text
    return {item["name"] for item in page.json()["items"]}
