"""With a model: every write tool only prepares its write and the reply carries Confirm / Change; the write runs
when the customer presses Confirm, in code, without asking the model again. The dialogue state's instructions
(the assistant's own, or the default) reach the model."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from easyflow.booking.backend import BookedService, BookingRequest
from easyflow.runtime import Runtime
from tests.booking_chat.chat import Customer
from tests.booking_chat.memory_backend import MemoryBackend
from tests.conftest import TenantFixture
from tests.doubles.llm_server import LLMServer, reply, tool_call

OUTPUT_TOOL = "final_result"
PHONE = "+79001234567"
MOSCOW = ZoneInfo("Europe/Moscow")


def tomorrow_at(hour: int) -> datetime:
    local = datetime.now(UTC).astimezone(MOSCOW) + timedelta(days=1)
    return local.replace(hour=hour, minute=0, second=0, microsecond=0)


async def use_model(client: httpx.AsyncClient, tenant: TenantFixture, llm: LLMServer, **changes: Any) -> str:
    default = (await client.get("/api/v1/assistants", headers=tenant.headers)).json()["items"][0]
    model = {"provider": "openai_compatible", "model_name": "qwen2.5:7b", "base_url": llm.base_url}
    response = await client.patch(
        f"/api/v1/assistants/{default['id']}", json={"model": model, **changes}, headers=tenant.headers
    )
    assert response.status_code == 200, response.text
    return str(default["id"])


async def existing_booking(salon: MemoryBackend) -> str:
    client = await salon.create_client("Айгерим", PHONE)
    [booked] = await salon.book(
        BookingRequest((BookedService(salon.services_[0].id, salon.staff_[0].id),), tomorrow_at(11), client)
    )
    return booked.id


def write_call(kind: str, salon: MemoryBackend, appointment_id: str) -> dict[str, Any]:
    if kind == "create_client":
        return {"name": "Айгерим", "phone": "8 900 123-45-67"}
    if kind == "create_appointment":
        return {
            "service_id": salon.services_[0].id,
            "start": tomorrow_at(15).replace(tzinfo=None).isoformat(),  # local, as get_available_slots gives it
            "client_name": "Айгерим",
            "client_phone": PHONE,
        }
    if kind == "cancel_appointment":
        return {"appointment_id": appointment_id}
    return {"appointment_id": appointment_id, "start": tomorrow_at(16).isoformat()}


def written(kind: str, salon: MemoryBackend, appointment_id: str) -> bool:
    if kind == "create_client":
        return len(salon.clients) == 1
    if kind == "create_appointment":
        return len(salon.booked()) == 1
    [appointment] = [each for each in salon.appointments if each.id == appointment_id]
    if kind == "cancel_appointment":
        return appointment.status == "cancelled"
    return appointment.start == tomorrow_at(16)


@pytest.mark.parametrize(
    "kind", ["create_client", "create_appointment", "cancel_appointment", "reschedule_appointment"]
)
async def test_every_write_tool_waits_for_the_customers_confirm(
    client: httpx.AsyncClient,
    tenant_a: TenantFixture,
    runtime: Runtime,
    salon: MemoryBackend,
    llm: LLMServer,
    kind: str,
) -> None:
    await use_model(client, tenant_a, llm)
    customer = Customer(client, tenant_a, runtime)
    appointment_id = ""
    if kind in ("cancel_appointment", "reschedule_appointment"):  # what is cancelled was booked here first
        llm.double.script(
            tool_call("create_appointment", write_call("create_appointment", salon, "")),
            tool_call(OUTPUT_TOOL, {"text": "Записать вас на завтра в 15:00?"}),
        )
        await customer.says("Запишите на завтра в 15")
        await customer.says("Подтвердить")
        [booked] = salon.booked()
        appointment_id = booked.id
    llm.double.script(
        tool_call(kind, write_call(kind, salon, appointment_id)),
        tool_call(OUTPUT_TOOL, {"text": "Готово, всё сделано!", "buttons": ["Спасибо"]}),
    )
    asked = await customer.says("Сделайте, пожалуйста")
    assert asked["buttons"][:2] == ["Подтвердить", "Изменить"] and "Спасибо" not in asked["buttons"]
    tool_result = llm.double.requests[-1]["json"]["messages"][-1]
    assert tool_result["role"] == "tool" and "awaiting the customer's confirmation" in tool_result["content"]
    assert not written(kind, salon, appointment_id)
    assert (await customer.conversation())["dialogue_state"] == "confirming"

    calls = len(llm.double.requests)
    done = await customer.says("Подтвердить")
    assert len(llm.double.requests) == calls  # the gate answered: the model was not asked
    assert written(kind, salon, appointment_id), done["text"]
    assert (await customer.conversation())["dialogue_state"] == "completed"


async def test_change_drops_what_the_model_prepared_and_the_model_answers_what_comes_next(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm)
    customer = Customer(client, tenant_a, runtime)
    llm.double.script(
        tool_call("create_appointment", write_call("create_appointment", salon, "")),
        tool_call(OUTPUT_TOOL, {"text": "Записать вас на завтра в 15:00?"}),
    )
    await customer.says("Запишите на завтра в 15")
    assert len(salon.held()) == 1
    calls = len(llm.double.requests)
    changed = await customer.says("Изменить")
    assert changed["text"].startswith("Хорошо, ничего не делаю.") and len(llm.double.requests) == calls
    assert salon.held() == [] and salon.booked() == []
    assert (await customer.conversation())["dialogue_state"] == "booking"
    # With nothing pending, "Изменить" is only a word: the model reads it.
    llm.double.script(reply("Что именно изменить?"))
    assert (await customer.says("Изменить"))["text"] == "Что именно изменить?"
    assert salon.booked() == []


async def test_the_model_cannot_cancel_what_is_not_the_customers(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm)
    someone_elses = await existing_booking(salon)
    customer = Customer(client, tenant_a, runtime, external_id="not-the-owner")
    llm.double.script(
        tool_call("cancel_appointment", {"appointment_id": someone_elses}),
        tool_call(OUTPUT_TOOL, {"text": "Не нашла такой записи."}),
    )
    answered = await customer.says("Отмените запись " + someone_elses)
    assert "Подтвердить" not in answered["buttons"]
    assert "not known yet" in llm.double.requests[-1]["json"]["messages"][-1]["content"]
    # Knowing the owner's phone number is not being the owner: their bookings stay hidden and untouchable.
    llm.double.script(
        tool_call("get_client_by_phone", {"phone": PHONE}),
        tool_call("get_my_appointments", {}),
        tool_call("cancel_appointment", {"appointment_id": someone_elses}),
        tool_call(OUTPUT_TOOL, {"text": "Не нашла такой записи."}),
    )
    answered = await customer.says("Мой номер " + PHONE + ", отмените мою запись")
    results = [m["content"] for m in llm.double.requests[-1]["json"]["messages"] if m["role"] == "tool"]
    assert '"found":true' in results[0] and someone_elses not in results[1]  # an empty list: nothing shown
    assert "No such appointment" in results[2]
    assert "Подтвердить" not in answered["buttons"]
    await customer.sends("Подтвердить")
    assert [each.status for each in salon.appointments] == ["confirmed"]


async def test_a_taken_time_is_refused_before_it_is_offered(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend, llm: LLMServer
) -> None:
    await use_model(client, tenant_a, llm)
    await existing_booking(salon)  # Анна at 11 tomorrow
    llm.double.script(
        tool_call(
            "create_appointment",
            {
                "service_id": salon.services_[0].id,
                "staff_id": salon.staff_[0].id,
                "start": tomorrow_at(11).isoformat(),
                "client_name": "Борис",
                "client_phone": "+79990000000",
            },
        ),
        tool_call(OUTPUT_TOOL, {"text": "Это время занято."}),
    )
    answered = await Customer(client, tenant_a, runtime, external_id="boris").says("Запишите к Анне на 11")
    assert "Подтвердить" not in answered["buttons"]
    assert "not free" in llm.double.requests[-1]["json"]["messages"][-1]["content"]
    assert len(salon.booked()) == 1


async def test_the_states_instructions_reach_the_model(
    client: httpx.AsyncClient, tenant_a: TenantFixture, runtime: Runtime, salon: MemoryBackend, llm: LLMServer
) -> None:
    own = "В состоянии consulting всегда упоминайте акцию недели."
    assistant_id = await use_model(client, tenant_a, llm, state_instructions={"consulting": own})
    read = (await client.get(f"/api/v1/assistants/{assistant_id}", headers=tenant_a.headers)).json()
    assert read["state_instructions"] == {"consulting": own}
    invalid = await client.patch(
        f"/api/v1/assistants/{assistant_id}", json={"state_instructions": {"dreaming": "x"}}, headers=tenant_a.headers
    )
    assert invalid.status_code == 422
    for hostile in ({"consulting": "x" * 4001}, {"consulting": 5}, ["consulting"], {"booking": None}):
        refused = await client.patch(
            f"/api/v1/assistants/{assistant_id}", json={"state_instructions": hostile}, headers=tenant_a.headers
        )
        assert refused.status_code == 422, (hostile, refused.text)
        assert refused.headers["content-type"].startswith("application/problem+json")
    customer = Customer(client, tenant_a, runtime)
    llm.double.script(reply("Здравствуйте!"))
    await customer.says("Привет")
    system = str(llm.double.requests[-1]["json"]["messages"][0]["content"])
    assert "Booking dialogue state: greeting" in system and "Поздоровайтесь" in system
    assert (await customer.conversation())["dialogue_state"] == "collecting_info"  # greeted: now their needs
    tools = [tool["function"]["name"] for tool in llm.double.requests[-1]["json"]["tools"]]
    assert {"get_services", "get_available_slots", "create_appointment", "get_my_appointments"} <= set(tools)

    llm.double.script(tool_call("get_services", {}), reply("Стрижка и маникюр."))
    await customer.says("Какие есть услуги?")
    assert (await customer.conversation())["dialogue_state"] == "consulting"
    llm.double.script(reply("Стрижка — 60 минут."))
    await customer.says("А сколько длится стрижка?")
    system = str(llm.double.requests[-1]["json"]["messages"][0]["content"])
    assert "Booking dialogue state: consulting" in system and own in system
