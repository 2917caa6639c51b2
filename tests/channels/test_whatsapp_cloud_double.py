"""The Graph API double answers as Graph does (shapes, error envelope, codes), and signs as Meta does."""

from __future__ import annotations

import httpx

from tests.doubles.whatsapp_cloud import WhatsAppServer, sign

NUMBER = "106540352242922"
TOKEN = "EAAJB" + "z" * 40


async def test_sends_answer_wamids_and_errors_take_graphs_envelope(whatsapp: WhatsAppServer) -> None:
    whatsapp.double.add_number(NUMBER, TOKEN)
    headers = {"Authorization": f"Bearer {TOKEN}"}
    message = {"messaging_product": "whatsapp", "to": "79161234567", "type": "text", "text": {"body": "Привет"}}
    async with httpx.AsyncClient(base_url=whatsapp.base_url) as http:
        sent = (await http.post(f"/{NUMBER}/messages", json=message, headers=headers)).json()
        assert sent["messaging_product"] == "whatsapp"
        assert sent["contacts"] == [{"input": "79161234567", "wa_id": "79161234567"}]
        assert sent["messages"][0]["id"].startswith("wamid.")
        whatsapp.double.fail_next(131047)
        refused = await http.post(f"/{NUMBER}/messages", json=message, headers=headers)
        error = refused.json()["error"]
        assert refused.status_code == 400
        assert set(error) == {"message", "type", "code", "error_subcode", "fbtrace_id"} and error["code"] == 131047
        unauthorized = await http.get(f"/{NUMBER}", headers={"Authorization": "Bearer nope"})
        assert (unauthorized.status_code, unauthorized.json()["error"]["code"]) == (401, 190)
        number = (await http.get(f"/{NUMBER}", headers=headers)).json()
        assert number["id"] == NUMBER and number["display_phone_number"]


def test_signature_matches_a_published_vector() -> None:
    # HMAC-SHA256("test", key "secret"), as the whatsapp_sdk docs (WhatsApp.Webhook.compute_signature) give it.
    assert sign(b"test", "secret") == "sha256=0329a06b62cd16b33eb6792be8c60b158d89a2ee3a876fce9a881ebb488c0914"
