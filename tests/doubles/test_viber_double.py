"""The Viber double answers as Viber's REST bot API does: status codes in a 200 answer, its limits enforced."""

from __future__ import annotations

import httpx

from tests.doubles.viber import ViberServer, sign

TOKEN = "4453b6ac12345678-e02c5f12174805f9-daec9cbb5448c51f"


def post(viber: ViberServer, method: str, body: dict, token: str | None = TOKEN) -> dict:
    headers = {"X-Viber-Auth-Token": token} if token else {}
    response = httpx.post(f"{viber.base_url}/pa/{method}", json=body, headers=headers, timeout=5)
    assert response.status_code == 200  # Viber reports errors in `status`, not in the HTTP status
    return dict(response.json())


def test_an_unknown_or_missing_token_is_status_2(viber: ViberServer) -> None:
    assert post(viber, "get_account_info", {}, token="nope")["status"] == 2
    assert post(viber, "get_account_info", {}, token=None)["status_message"] == "invalidAuthToken"


def test_sending_needs_a_webhook_a_sender_and_text_within_limits(viber: ViberServer) -> None:
    viber.double.add_bot(TOKEN)
    text = {"receiver": "u1", "type": "text", "text": "hi", "sender": {"name": "Bot"}}
    assert post(viber, "send_message", text)["status"] == 10  # no webhook yet
    assert post(viber, "set_webhook", {"url": "https://example.com/hook"})["status"] == 0
    assert post(viber, "send_message", text | {"sender": {"name": "x" * 29}})["status"] == 3
    assert post(viber, "send_message", text | {"text": "x" * 7001})["status"] == 3
    bad_keyboard = {"Type": "keyboard", "Buttons": [{"Text": "no action body"}]}
    assert post(viber, "send_message", text | {"keyboard": bad_keyboard})["status"] == 3
    sent = post(viber, "send_message", text)
    assert sent["status"] == 0 and isinstance(sent["message_token"], int)
    viber.double.unsubscribe("u1")
    assert post(viber, "send_message", text) == {"status": 6, "status_message": "receiverNotSubscribed"}


def test_signatures_are_hex_hmac_sha256_of_the_raw_body() -> None:
    # A widely published HMAC-SHA256 example (key "key"), so the helper is checked against more than itself.
    assert sign("key", b"The quick brown fox jumps over the lazy dog") == (
        "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"
    )
