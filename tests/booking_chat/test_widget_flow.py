"""The guided flow in the website widget: each step's buttons arrive as the reply's quick replies, and the visitor's
press is sent back as their message."""

from __future__ import annotations

import httpx

from easyflow.runtime import Runtime
from tests.booking_chat.memory_backend import MemoryBackend
from tests.channels.test_widget_api import make_widget, read, send, visitor_token
from tests.conftest import TenantFixture, run_queued_jobs


async def test_a_visitor_books_with_quick_replies(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend
) -> None:
    key = (await make_widget(client, tenant_a))["public_key"]
    token = await visitor_token(client, key)

    async def says(text: str) -> dict:
        assert (await send(client, key, token, text)).status_code == 202
        await run_queued_jobs(runtime)
        return dict((await read(client, key, token))[-1])

    services = await says("Хочу записаться")
    assert services["buttons"][:2] == ["Стрижка", "Маникюр"]
    days = await says("Маникюр")
    times = await says(days["buttons"][0])
    await says(times["buttons"][0])
    await says("Айгерим")
    proposal = await says("+7 900 123-45-67")
    assert proposal["buttons"][:2] == ["Подтвердить", "Изменить"] and salon.booked() == []
    assert (await says("Подтвердить"))["text"].startswith("Готово!")
    assert len(salon.booked()) == 1
