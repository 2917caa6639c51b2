"""The import job. One tenant's imports run one at a time (a lock per tenant: two imports of the same chats
must not race to create the same contacts), on the bulk-work queue, so they never hold the slots of chat
replies."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from easyflow.crm.imports.service import IMPORT_JOB, ChatImporter
from easyflow.kit.jobs import job

if TYPE_CHECKING:
    from easyflow.runtime import Runtime

IMPORTS_QUEUE = "imports"


async def _import_gave_up(runtime: Runtime, error: Exception, *, tenant_id: str, import_id: str) -> None:
    reason = f"The import failed after retries: {type(error).__name__}: {error}"
    await ChatImporter(runtime.database, runtime.settings).fail(uuid.UUID(tenant_id), uuid.UUID(import_id), reason)


@job(IMPORT_JOB, lock="crm-imports:{tenant_id}", max_attempts=3, on_give_up=_import_gave_up, queue=IMPORTS_QUEUE)
async def import_chats(runtime: Runtime, *, tenant_id: str, import_id: str) -> None:
    await ChatImporter(runtime.database, runtime.settings).run(uuid.UUID(tenant_id), uuid.UUID(import_id))
