"""The YCLIENTS double answers as YCLIENTS documents: its authentication header, its error envelope, its booking
error codes and its rate limit — so the backend's tests mean something."""

from __future__ import annotations

import httpx

from tests.doubles.yclients import YclientsServer

V2 = "application/vnd.api.v2+json"


def test_authentication_accept_and_the_error_envelope(yclients: YclientsServer) -> None:
    double = yclients.double
    company = double.add_company()
    double.authorize("user-token-1", company)
    partner = {"Authorization": f"Bearer {double.partner_token}", "Accept": V2}
    with httpx.Client(base_url=yclients.base_url) as http:
        services = http.get(f"/book_services/{company.id}", headers=partner)
        assert services.status_code == 200 and services.json()["success"] is True
        assert set(services.json()["data"]) == {"events", "services", "category"}

        wrong = http.get(f"/book_services/{company.id}", headers={**partner, "Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.json() == {
            "success": False,
            "data": None,
            "meta": {"message": "Partner authentication error", "errors": []},
        }
        assert http.get(f"/book_services/{company.id}", headers={**partner, "Accept": "*/*"}).status_code == 406
        assert http.get(f"/records/{company.id}", headers=partner).status_code == 401  # needs the user token
        user = {**partner, "Authorization": f"Bearer {double.partner_token}, User user-token-1"}
        assert http.get(f"/records/{company.id}", headers=user).status_code == 200
        other = double.add_company("Другой")
        assert http.get(f"/records/{other.id}", headers=user).status_code == 403


def test_booking_codes_name_the_appointment(yclients: YclientsServer) -> None:
    double = yclients.double
    company = double.add_company(utc_offset_hours=3)
    haircut = double.add_service(company, "Стрижка", 60)
    anna = double.add_staff(company, "Анна", [haircut])
    headers = {"Authorization": f"Bearer {double.partner_token}", "Accept": V2}
    at = "2030-03-04T12:00:00+03:00"
    appointment = {"id": 7, "services": [haircut.id], "staff_id": anna.id, "datetime": at}
    with httpx.Client(base_url=yclients.base_url, headers=headers) as http:
        body = {"phone": "79161234567", "fullname": "Мария", "email": "", "appointments": [appointment]}
        created = http.post(f"/book_record/{company.id}", json=body)
        assert created.status_code == 201 and created.json()["data"][0]["id"] == 7
        taken = http.post(f"/book_check/{company.id}", json={"appointments": [appointment]})
        assert taken.status_code == 422
        assert taken.json()["meta"]["errors"][0]["code"] == 433 and taken.json()["meta"]["errors"][0]["id"] == 7
        nameless = http.post(f"/book_record/{company.id}", json={**body, "fullname": " "})
        assert nameless.json()["meta"]["errors"][0]["code"] == 435


def test_more_than_five_requests_a_second_get_429(yclients: YclientsServer) -> None:
    double = yclients.double
    company = double.add_company()
    headers = {"Authorization": f"Bearer {double.partner_token}", "Accept": V2}
    with httpx.Client(base_url=yclients.base_url, headers=headers) as http:
        statuses = [http.get(f"/book_staff/{company.id}").status_code for _ in range(7)]
    assert statuses[:5] == [200] * 5 and 429 in statuses[5:]
    assert double.refused_for_rate >= 1 and double.max_requests_in_any_second() == 7
