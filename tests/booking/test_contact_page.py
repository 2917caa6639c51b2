"""A contact's dashboard page lists their appointments in the timeline, in Russian."""

from __future__ import annotations

import httpx

from tests.booking.support import APPOINTMENTS, booking_body, make_salon
from tests.conftest import TenantFixture
from tests.web.dashboard import sign_in


async def test_the_contacts_page_shows_their_appointments(client: httpx.AsyncClient, tenant_a: TenantFixture) -> None:
    salon = await make_salon(client, tenant_a)
    body = booking_body(salon, "10:00", contact={"name": "Анна", "phone": "+79123456789"})
    made = (await client.post(APPOINTMENTS, json=body, headers=tenant_a.headers)).json()
    await client.patch(f"{APPOINTMENTS}/{made['id']}", json={"status": "arrived"}, headers=tenant_a.headers)
    await sign_in(client, tenant_a)
    page = await client.get(f"/app/contacts/{made['contact_id']}", headers={"Accept-Language": "ru"})
    assert page.status_code == 200
    assert 'data-entry="appointment"' in page.text
    assert "Запись" in page.text and "клиент пришёл" in page.text
