"""Talking to the assistant through the API channel, as a customer whose button presses are messages."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import httpx

from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs

POST = "/api/v1/channels/api/messages"


@dataclass
class Customer:
    client: httpx.AsyncClient
    tenant: TenantFixture
    runtime: Runtime
    external_id: str = "customer-1"
    conversation_id: str = ""

    async def says(self, text: str) -> dict:
        """The assistant's reply to `text` (a typed message or a pressed button's label)."""
        messages = await self.sends(text)
        assert messages[-1]["role"] == "assistant", messages[-1]
        return dict(messages[-1])

    async def sends(self, text: str) -> list[dict]:
        """Every message of the conversation after `text` was answered, if it was."""
        response = await self.client.post(
            POST,
            json={
                "contact": {"external_id": self.external_id, "name": "Айгерим"},
                "text": text,
                "external_message_id": uuid.uuid4().hex,
            },
            headers=self.tenant.headers,
        )
        assert response.status_code == 202, response.text
        self.conversation_id = response.json()["conversation_id"]
        await run_queued_jobs(self.runtime)
        return list((await self.client.get(f"{self.url}/messages", headers=self.tenant.headers)).json())

    async def conversation(self) -> dict:
        return dict((await self.client.get(self.url, headers=self.tenant.headers)).json())

    @property
    def url(self) -> str:
        return f"/api/v1/conversations/{self.conversation_id}"
