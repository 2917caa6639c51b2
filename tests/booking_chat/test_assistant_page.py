"""The dashboard's assistant settings keep (or switch off) the booking tools: saving the form must not drop them."""

from __future__ import annotations

import httpx

from tests.conftest import TenantFixture
from tests.web.test_assistant_pages import PAGE, default_assistant, settings_form, signed_in


async def test_the_booking_tools_are_a_setting_of_their_own(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    assistant = await default_assistant(client, tenant_a)
    assert "booking" in assistant["enabled_tools"]  # new assistants book
    csrf = await signed_in(client, tenant_a)
    page = await client.get(f"{PAGE}/{assistant['id']}")
    assert 'name="booking" checked' in page.text and "Записывает клиентов" in page.text

    saved = await client.post(f"{PAGE}/{assistant['id']}", data=settings_form(csrf, booking="on"))
    assert saved.status_code == 303
    assert (await default_assistant(client, tenant_a))["enabled_tools"] == ["search_knowledge", "booking"]

    saved = await client.post(f"{PAGE}/{assistant['id']}", data=settings_form(csrf))
    assert saved.status_code == 303
    assert (await default_assistant(client, tenant_a))["enabled_tools"] == ["search_knowledge"]
    page = await client.get(f"{PAGE}/{assistant['id']}")
    assert 'name="booking">' in page.text
