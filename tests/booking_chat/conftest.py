"""Booking in the chat, over the in-memory double of our BookingBackend interface (memory_backend.py): each test
gets a salon for tenant A (and an empty dict for others), installed as the chat's backend source."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest

from easyflow.booking.chat_backends import use_backends
from tests.booking_chat.memory_backend import MemoryBackend, source_of
from tests.conftest import TenantFixture


@pytest.fixture
def backends() -> Iterator[dict[uuid.UUID, MemoryBackend]]:
    installed: dict[uuid.UUID, MemoryBackend] = {}
    use_backends(source_of(installed))
    yield installed
    use_backends(None)


@pytest.fixture
def salon(backends: dict[uuid.UUID, MemoryBackend], tenant_a: TenantFixture) -> MemoryBackend:
    """Tenant A's salon: a haircut (Анна or Мария) and a manicure (Ольга only)."""
    backend = MemoryBackend()
    backend.add_service("Стрижка", 60, staff=("Анна", "Мария"))
    backend.add_service("Маникюр", 60, staff=("Ольга",))
    backends[tenant_a.id] = backend
    return backend
