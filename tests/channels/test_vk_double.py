"""The VK double answers as VK does: the `{"response"}` / `{"error": {"error_code", "error_msg"}}` envelope
(always HTTP 200), and the refusals the channel has to cope with."""

from __future__ import annotations

import json

import httpx

from tests.doubles.vk import VkApiError, VkServer

TOKEN = "vk1.a." + "D" * 80


def call(vk: VkServer, method: str, **params: object) -> dict:
    data = {"access_token": TOKEN, "v": "5.199"} | {key: str(value) for key, value in params.items()}
    response = httpx.post(f"{vk.api_url}/{method}", data=data, timeout=5)
    assert response.status_code == 200
    return dict(response.json())


def error_code(answer: dict) -> int:
    return int(answer["error"]["error_code"])


def test_the_envelope_and_the_refusals(vk: VkServer) -> None:
    assert error_code(call(vk, "groups.getById", group_id=1)) == 5  # unknown token
    vk.double.add_community(TOKEN, 42, name="Тест")
    assert call(vk, "groups.getById", group_id=42)["response"]["groups"][0]["id"] == 42
    assert call(vk, "groups.getCallbackConfirmationCode", group_id=42)["response"] == {"code": "a1b2c3d4"}
    assert error_code(call(vk, "messages.send", peer_id=7, random_id=1, message="x" * 4097)) == 100
    bad_keyboard = json.dumps({"inline": True, "buttons": [[{"action": {"label": "x" * 41}}]]})
    assert error_code(call(vk, "messages.send", peer_id=7, random_id=1, message="x", keyboard=bad_keyboard)) == 911
    first = call(vk, "messages.send", peer_id=7, random_id=99, message="Привет")["response"]
    assert call(vk, "messages.send", peer_id=7, random_id=99, message="Привет")["response"] == first
    assert len(vk.double.sent_to(7)) == 1  # the same random_id: sent once
    vk.double.block(8)
    answer = call(vk, "messages.send", peer_id=8, random_id=1, message="x")
    assert answer["error"] == {
        "error_code": 901,
        "error_msg": "Can't send messages for users without permission",
        "request_params": answer["error"]["request_params"],
    }
    assert all(p["key"] != "access_token" for p in answer["error"]["request_params"])


def test_more_than_twenty_calls_a_second_is_error_6(vk: VkServer) -> None:
    # Straight to the double's handler: 25 calls in well under a second, however busy the machine.
    vk.double.add_community(TOKEN, 42)
    codes = []
    for _ in range(25):
        try:
            vk.double.handle("groups.getById", {"access_token": TOKEN, "v": "5.199", "group_id": "42"})
            codes.append(None)
        except VkApiError as error:
            codes.append(error.code)
    assert codes == [None] * 20 + [6] * 5
