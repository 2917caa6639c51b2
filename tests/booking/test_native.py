"""The native engine through the `BookingBackend` interface the assistant's tools use, and the resolver that
picks a tenant's booking system."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from sqlalchemy import text

from easyflow.booking import backends
from easyflow.booking.backend import BackendUnavailable, BookedService, BookingBackend, BookingRequest, SlotTaken
from easyflow.booking.backends import backend_for, register_backend
from easyflow.booking.native import NativeBackend
from easyflow.db.database import Database
from easyflow.kit.errors import NotFound
from easyflow.runtime import Runtime
from tests.booking.support import make_salon
from tests.catalogue.test_services import add_service
from tests.conftest import TenantFixture


async def test_the_native_backend_books_moves_and_cancels_through_the_interface(
    client: httpx.AsyncClient, tenant_a: TenantFixture, database: Database, runtime: Runtime
) -> None:
    salon = await make_salon(client, tenant_a)
    hidden = await add_service(client, tenant_a, name="Только по звонку", online_bookable=False)
    async with database.tenant_transaction(tenant_a.id) as session:
        backend: BookingBackend = await backend_for(session, tenant_a.id, runtime)
        assert isinstance(backend, NativeBackend)
        services = await backend.services()
        assert [service.id for service in services] == [salon.service["id"]]
        assert hidden["id"] not in {service.id for service in services}
        staff = await backend.staff(salon.service["id"])
        assert [(member.id, member.service_ids) for member in staff] == [(salon.staff["id"], (salon.service["id"],))]
        assert await backend.staff(hidden["id"]) == []

        slots = await backend.slots(salon.service["id"], None, salon.day, salon.day)
        assert slots and slots[0].staff_id == salon.staff["id"] and slots[0].end - slots[0].start == timedelta(hours=1)
        assert await backend.client_by_phone("+7 912 345-67-89") is None
        created = await backend.create_client("Анна", "8 (912) 345-67-89")
        assert await backend.client_by_phone("+79123456789") == created
        assert await backend.client_by_phone("not a phone") is None

        request = BookingRequest(
            services=(BookedService(salon.service["id"], None),), start=slots[0].start, client=created, comment="чай"
        )
        booked = await backend.book(request)
        assert [(item.staff_id, item.start, item.status) for item in booked] == [
            (salon.staff["id"], slots[0].start, "confirmed")
        ]
        with pytest.raises(SlotTaken):
            await backend.book(
                BookingRequest(
                    services=(BookedService(salon.service["id"], salon.staff["id"]),),
                    start=slots[0].start,
                    client=created,
                )
            )
        moved = await backend.reschedule(booked[0].id, slots[-1].start)
        assert moved.start == slots[-1].start
        assert [item.id for item in await backend.client_appointments(created.id)] == [booked[0].id]
        cancelled = await backend.cancel(booked[0].id)
        assert cancelled.status == "cancelled"
        assert await backend.client_appointments(created.id) == []
        assert [item.id for item in await backend.client_appointments(created.id, upcoming_only=False)] == [
            booked[0].id
        ]
        with pytest.raises(NotFound):
            await backend.cancel("not-an-id")


async def test_a_tenant_on_another_booking_system_gets_its_backend_or_a_clear_refusal(
    tenant_a: TenantFixture, database: Database, runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with database.tenant_transaction(tenant_a.id) as session:
        await session.execute(
            text("INSERT INTO booking_settings (tenant_id, backend) VALUES (:t, 'test-system')"), {"t": tenant_a.id}
        )
        with pytest.raises(BackendUnavailable):
            await backend_for(session, tenant_a.id, runtime)
        native = NativeBackend(session, tenant_a.id)
        # The registry is left as it was after the test.
        monkeypatch.setattr(backends, "_FACTORIES", dict(backends._FACTORIES))
        register_backend("test-system", lambda session, tenant_id, runtime: native)
        assert await backend_for(session, tenant_a.id, runtime) is native
