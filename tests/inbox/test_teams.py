"""Teams: conversations handed to a team go to its online members only; transfer to a team; the model's
handoff names one; the list filters by it; another tenant's teams are invisible."""

from __future__ import annotations

import httpx

from easyflow.db.database import Database
from easyflow.runtime import Runtime
from tests.conftest import TenantFixture, run_queued_jobs
from tests.doubles.llm_server import LLMServer, tool_call
from tests.inbox.staff import Staff, conversation, customer_writes, events, patch, sign_in
from tests.support import assert_problem

TEAMS = "/api/v1/teams"


async def make_team(client: httpx.AsyncClient, tenant: TenantFixture, name: str, *members: Staff) -> dict:
    created = await client.post(TEAMS, json={"name": name}, headers=tenant.headers)
    assert created.status_code == 201, created.text
    team = dict(created.json())
    changed = await client.put(
        f"{TEAMS}/{team['id']}/members", json={"user_ids": [str(m.user_id) for m in members]}, headers=tenant.headers
    )
    assert changed.status_code == 200, changed.text
    assert sorted(changed.json()["member_ids"]) == sorted(str(m.user_id) for m in members)
    return team


async def online(client: httpx.AsyncClient, *staff: Staff) -> None:
    for person in staff:
        assert (await client.put("/api/v1/presence", json={"status": "online"}, headers=person.headers)).is_success


async def test_a_conversation_transferred_to_a_team_goes_to_its_online_member(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    boris = await sign_in(client, database, tenant_a)
    tours = await make_team(client, tenant_a, "Туры", boris)
    await online(client, anna, boris)
    first = await customer_writes(client, tenant_a, "Позовите оператора", contact="c1")
    await run_queued_jobs(runtime)
    taken = await patch(client, anna.headers, first["conversation_id"], status="open", assignee_id=str(anna.user_id))
    assert taken.json()["assignee_id"] == str(anna.user_id)
    moved = await patch(client, anna.headers, first["conversation_id"], team_id=tours["id"])
    assert moved.status_code == 200, moved.text
    assert (moved.json()["team_id"], moved.json()["assignee_id"]) == (tours["id"], None)
    await run_queued_jobs(runtime)
    routed = await conversation(client, tenant_a, first["conversation_id"])
    assert (routed["status"], routed["assignee_id"]) == ("pending", str(boris.user_id))
    kinds = [e["kind"] for e in await events(client, tenant_a, first["conversation_id"])]
    assert kinds[-2:] == ["unassigned", "assigned"]
    listed = (await client.get(f"/api/v1/conversations?team={tours['id']}", headers=anna.headers)).json()
    assert [c["id"] for c in listed["items"]] == [first["conversation_id"]]


async def test_nobody_of_the_team_online_leaves_it_waiting_for_the_team(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime
) -> None:
    anna = await sign_in(client, database, tenant_a)
    boris = await sign_in(client, database, tenant_a)
    tours = await make_team(client, tenant_a, "Туры", boris)
    await online(client, anna)
    accepted = await customer_writes(client, tenant_a, "Привет")
    await run_queued_jobs(runtime)
    await patch(client, anna.headers, accepted["conversation_id"], status="pending", team_id=tours["id"])
    await run_queued_jobs(runtime)
    assert (await conversation(client, tenant_a, accepted["conversation_id"]))["assignee_id"] is None
    await online(client, boris)
    await run_queued_jobs(runtime)
    assert (await conversation(client, tenant_a, accepted["conversation_id"]))["assignee_id"] == str(boris.user_id)


async def test_the_models_handoff_names_the_team(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, runtime: Runtime, llm: LLMServer
) -> None:
    boris = await sign_in(client, database, tenant_a)
    tours = await make_team(client, tenant_a, "Туры", boris)
    assistant = (await client.get("/api/v1/assistants", headers=tenant_a.headers)).json()["items"][0]
    model = {"provider": "openai_compatible", "model_name": "qwen2.5:7b", "base_url": llm.base_url}
    await client.patch(f"/api/v1/assistants/{assistant['id']}", json={"model": model}, headers=tenant_a.headers)
    llm.double.script(
        tool_call("handoff", {"reason": "тур в Иссык-Куль", "team": "туры"}),
        tool_call("final_result", {"text": "Передаю менеджеру по турам."}),
    )
    accepted = await customer_writes(client, tenant_a, "Хочу тур на Иссык-Куль на троих")
    await run_queued_jobs(runtime)
    handed = await conversation(client, tenant_a, accepted["conversation_id"])
    assert (handed["status"], handed["team_id"]) == ("pending", tours["id"])


async def test_teams_are_the_tenants_own_and_bad_input_is_refused(
    client: httpx.AsyncClient, database: Database, tenant_a: TenantFixture, tenant_b: TenantFixture, runtime: Runtime
) -> None:
    theirs = await sign_in(client, database, tenant_b)
    their_team = await make_team(client, tenant_b, "Чужие", theirs)
    anna = await sign_in(client, database, tenant_a)
    assert (await client.get(TEAMS, headers=tenant_a.headers)).json() == []
    assert (await client.get(f"{TEAMS}/{their_team['id']}", headers=tenant_a.headers)).status_code == 404
    members = {"user_ids": [str(anna.user_id)]}
    put = await client.put(f"{TEAMS}/{their_team['id']}/members", json=members, headers=tenant_a.headers)
    assert put.status_code == 404
    assert (await client.delete(f"{TEAMS}/{their_team['id']}", headers=tenant_a.headers)).status_code == 404
    accepted = await customer_writes(client, tenant_a, "Привет")
    await run_queued_jobs(runtime)
    assert_problem(await patch(client, anna.headers, accepted["conversation_id"], team_id=their_team["id"]), 422)
    mine = await make_team(client, tenant_a, "Салон", anna)
    outsider = {"user_ids": [str(theirs.user_id)]}
    assert_problem(await client.put(f"{TEAMS}/{mine['id']}/members", json=outsider, headers=tenant_a.headers), 422)
    assert_problem(await client.post(TEAMS, json={"name": "салон"}, headers=tenant_a.headers), 409)
    for bad in ({"name": ""}, {"name": "x" * 101}, {"name": "a\x00"}, {}):
        assert_problem(await client.post(TEAMS, json=bad, headers=tenant_a.headers), 422)
    assert (await client.post(TEAMS, json={"name": "Ещё"}, headers=anna.headers)).status_code == 403  # admins only
