"""Background jobs of partners: sending a transfer."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

from easyflow.crm.funnel.rules import FUNNEL_QUEUE
from easyflow.crm.partners.sending import give_up, send_transfer
from easyflow.crm.partners.service import SEND_TRANSFER_JOB
from easyflow.kit.jobs import job

if TYPE_CHECKING:
    from easyflow.runtime import Runtime


async def _transfer_gave_up(
    runtime: Runtime, error: Exception, *, tenant_id: str, transfer_id: str, sealed_token: str
) -> None:
    await give_up(runtime, uuid.UUID(tenant_id), uuid.UUID(transfer_id), error)


# Eight attempts with exponential backoff span a few minutes: a partner's server restarting, or a mail server
# that is briefly down, does not fail a transfer.
@job(SEND_TRANSFER_JOB, max_attempts=8, on_give_up=_transfer_gave_up, queue=FUNNEL_QUEUE)
async def send(runtime: Runtime, *, tenant_id: str, transfer_id: str, sealed_token: str) -> None:
    token = runtime.secrets.decrypt(sealed_token)
    await send_transfer(runtime, uuid.UUID(tenant_id), uuid.UUID(transfer_id), token)
