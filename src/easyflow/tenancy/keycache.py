"""API keys verified recently, kept in memory so that an API-key request does not look its key up in
PostgreSQL (the look-up was a third of an authenticated GET's cost).

A revocation sends a NOTIFY on KEYS_CHANNEL with the key's prefix in its transaction; every process's live
hub hears it once it commits and drops that key, so a revoked key stops working on every process within a
moment. The cache answers only while the hub's LISTEN connection is up, and is emptied each time that
connection is (re)opened, so a revocation sent while nobody listened cannot leave a key usable. A key read
from the database while a revocation was being heard is not kept (the generation check); neither are unknown
or revoked keys, whose requests go to the database as before.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from easyflow.live.hub import ChannelListener, LiveHub
from easyflow.models.tenancy import Role
from easyflow.tenancy.principal import Principal

KEYS_CHANNEL = "easyflow_api_keys"
# Bounds memory whatever the number of keys in use; when full it starts again empty (rare, and only costs
# each key one database look-up).
MAX_ENTRIES = 10_000


@dataclass
class CachedKey:
    id: uuid.UUID
    tenant_id: uuid.UUID
    key_hash: str
    role: Role
    last_used_at: datetime | None

    def principal(self) -> Principal:
        return Principal(tenant_id=self.tenant_id, role=self.role, api_key_id=self.id)


class ApiKeyCache:
    def __init__(self, hub: LiveHub) -> None:
        self.hub = hub
        self.entries: dict[str, CachedKey] = {}
        # Bumped by every invalidation: a look-up that started before one may have read what it invalidated.
        self.generation = 0
        hub.listen_to(KEYS_CHANNEL, ChannelListener(heard=self.forget, reset=self.clear))

    def get(self, prefix: str) -> CachedKey | None:
        if not self.hub.connected:
            self.hub.ensure_listening()
            return None
        return self.entries.get(prefix)

    def keep(self, prefix: str, key: CachedKey, generation: int) -> None:
        """Remember a valid key read from the database when `generation` was current."""
        if generation != self.generation or not self.hub.connected:
            return
        if len(self.entries) >= MAX_ENTRIES:
            self.entries.clear()
        self.entries[prefix] = key

    def forget(self, prefix: str) -> None:
        self.entries.pop(prefix, None)
        self.generation += 1

    def clear(self) -> None:
        self.entries.clear()
        self.generation += 1
