"""Fixtures of the inbox tests."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import TenantFixture
from tests.doubles.webhook_receiver import WebhookReceiver


@pytest.fixture
async def webhook(
    client: httpx.AsyncClient, tenant_a: TenantFixture, webhook_receiver: WebhookReceiver
) -> WebhookReceiver:
    """Tenant A's replies pushed to the webhook receiver double."""
    response = await client.put("/api/v1/tenant/webhook", json={"url": webhook_receiver.url}, headers=tenant_a.headers)
    assert response.status_code == 200, response.text
    return webhook_receiver
