"""A protocol-faithful double of the YCLIENTS REST API v1 (Altegio runs the same API), served for real on
127.0.0.1.

Written from YCLIENTS' own documentation (developers.yclients.com/ru, section «Онлайн-запись»: «Получить список
услуг доступных для бронирования» `book_services`, «…сотрудников…» `book_staff`, «…дат…» `book_dates`,
«…сеансов…» `book_times`, «Проверить параметры записи» `book_check`, «Создать запись на сеанс» `book_record`,
«Перенести запись на сеанс» `PUT book_record/{company_id}/{record_id}`; sections «Записи» and «Клиенты» for the
company's records and clients) and Altegio's error example (developer.alteg.io, the `meta.errors` list of
`{"code", "message"}`):

* every call at `{base}/…` (base `https://api.yclients.com/api/v1`), JSON both ways, the header
  `Authorization: Bearer <partner_token>` (online booking) or `Bearer <partner_token>, User <user_token>` (a
  company's records and clients), and `Accept: application/vnd.api.v2+json` (the documentation's newer
  spelling `application/vnd.yclients.v2+json` too: both are in use);
* answers in the envelope `{"success": true, "data": …, "meta": …}`; errors as `{"success": false, "data":
  null, "meta": {"message": …, "errors": [{"code": N, "message": …, "id"?: appointment id}]}}`. The booking
  checks answer HTTP 422 with code 433 (the time is taken, naming the appointment's `id`), 436 (no staff
  member free, when staff_id 0 asked for anyone), 437 (two appointments of the request overlap, naming the
  later one), 438 (a service was removed or is not bookable), 431 (a malformed phone), 435 (no name);
* times: `book_times` returns `time`, `seance_length` (seconds) and `datetime` (ISO 8601 with the company's
  UTC offset, which is what `book_check`/`book_record` take back); `book_dates` returns `booking_dates` (Unix
  times of the days' midnights, UTC) and `booking_days` (`{"month": ["day", …]}`);
* the rate limit (documented as 200 requests a minute and 5 a second): a request over either gets 429 and
  is still counted as seen (`double.request_times`).

Two things the documentation leaves open are decided here: a request without a v2 `Accept` gets 406 (the real
server answers it in the old v1 shape, which no client of ours should rely on), and a record webhook is the
JSON object `{"company_id", "resource": "record", "resource_id", "status": "create|update|delete", "data"}`
that YCLIENTS posts to the URL set in the company's integration settings.

A test builds a company (`double.add_company(...)`, `add_service`, `add_staff`), lets a user token manage it
(`double.authorize(user_token, company_id)`), injects failures (`double.delay_seconds`, `double.fail_next`) and
reads what was asked (`double.calls`, `double.request_times`, `double.records`).
"""

from __future__ import annotations

import asyncio
import itertools
import re
import secrets
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from tests.doubles.serving import ThreadedServer

V2_ACCEPT = ("application/vnd.api.v2+json", "application/vnd.yclients.v2+json")
PER_SECOND, PER_MINUTE = 5, 200
PHONE = re.compile(r"^\+?\d{10,15}$")


class Refused(Exception):
    def __init__(self, status: int, message: str, *, code: int | None = None, appointment_id: int | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.appointment_id = status, message, code, appointment_id

    def answer(self) -> JSONResponse:
        errors: list[dict[str, Any]] = []
        if self.code is not None:
            error: dict[str, Any] = {"code": self.code, "message": self.message}
            if self.appointment_id is not None:
                error["id"] = self.appointment_id
            errors.append(error)
        body = {"success": False, "data": None, "meta": {"message": self.message, "errors": errors}}
        return JSONResponse(body, status_code=self.status)


@dataclass
class YService:
    id: int
    title: str
    category_id: int
    seance_length: int  # seconds
    price_min: float = 0
    price_max: float = 0
    comment: str = ""
    bookable: bool = True


@dataclass
class YStaff:
    id: int
    name: str
    specialization: str
    service_ids: set[int]
    # weekday (Monday 0) -> (start, end) local wall-clock hours
    hours: dict[int, tuple[int, int]] = field(default_factory=lambda: {d: (10, 19) for d in range(7)})


@dataclass
class YClient:
    id: int
    name: str
    phone: str


@dataclass
class YRecord:
    id: int
    company_id: int
    staff_id: int
    service_ids: list[int]
    client_id: int
    start: datetime  # aware
    length: int  # seconds
    comment: str = ""
    api_id: str = ""
    attendance: int = 0
    deleted: bool = False
    hash: str = field(default_factory=lambda: secrets.token_hex(16))
    created: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def end(self) -> datetime:
        return self.start + timedelta(seconds=self.length)


@dataclass
class YCompany:
    id: int
    title: str
    utc_offset_hours: int
    categories: dict[int, str] = field(default_factory=dict)
    services: dict[int, YService] = field(default_factory=dict)
    staff: dict[int, YStaff] = field(default_factory=dict)
    clients: dict[int, YClient] = field(default_factory=dict)

    @property
    def tz(self) -> timezone:
        return timezone(timedelta(hours=self.utc_offset_hours))


class YclientsDouble:
    def __init__(self, partner_token: str = "partner-token-of-the-double") -> None:
        self.partner_token = partner_token
        self.companies: dict[int, YCompany] = {}
        self.user_tokens: dict[str, set[int]] = {}
        self.records: dict[int, YRecord] = {}
        self.calls: list[tuple[str, str]] = []
        self.request_times: deque[float] = deque()
        self.slot_step_minutes = 30
        self.delay_seconds = 0.0
        self.enforce_rate_limit = True
        self.refused_for_rate = 0
        self._failures: deque[int] = deque()
        self._path_failures: list[tuple[str, str, int]] = []
        self._ids = itertools.count(1000)
        self._lock = threading.Lock()

    # --- building the world -------------------------------------------------------------------------------

    def add_company(self, title: str = "Салон «Лотос»", *, utc_offset_hours: int = 3) -> YCompany:
        company = YCompany(next(self._ids), title, utc_offset_hours)
        self.companies[company.id] = company
        return company

    def add_service(
        self, company: YCompany, title: str, minutes: int, *, price: float = 0, category: str = "Услуги"
    ) -> YService:
        category_id = next((cid for cid, name in company.categories.items() if name == category), None)
        if category_id is None:
            category_id = next(self._ids)
            company.categories[category_id] = category
        service = YService(next(self._ids), title, category_id, minutes * 60, price, price)
        company.services[service.id] = service
        return service

    def add_staff(self, company: YCompany, name: str, services: list[YService], specialization: str = "") -> YStaff:
        staff = YStaff(next(self._ids), name, specialization, {s.id for s in services})
        company.staff[staff.id] = staff
        return staff

    def add_client(self, company: YCompany, name: str, phone: str) -> YClient:
        client = YClient(next(self._ids), name, phone)
        company.clients[client.id] = client
        return client

    def authorize(self, user_token: str, company: YCompany) -> None:
        self.user_tokens.setdefault(user_token, set()).add(company.id)

    def fail_next(self, *statuses: int) -> None:
        """The next requests answer these statuses (429 with `Retry-After: 1`, 5xx), before anything else."""
        self._failures.extend(statuses)

    def fail_on(self, method: str, path_contains: str, status: int) -> None:
        """The next `method` request whose path contains `path_contains` answers `status` (once)."""
        self._path_failures.append((method, path_contains, status))

    def record_webhook(self, record: YRecord, status: str) -> dict[str, Any]:
        """The body YCLIENTS posts to a company's webhook URL when a record is created, changed or deleted."""
        return {
            "company_id": record.company_id,
            "resource": "record",
            "resource_id": record.id,
            "status": status,
            "data": self._record_json(record),
        }

    def max_requests_in_any_second(self) -> int:
        times = sorted(self.request_times)
        most, first = 0, 0
        for last, moment in enumerate(times):
            while moment - times[first] >= 1.0:
                first += 1
            most = max(most, last - first + 1)
        return most

    # --- the protocol ---------------------------------------------------------------------------------------

    def _authenticate(self, request: Request, *, user: bool) -> str | None:
        header = request.headers.get("authorization", "")
        match = re.fullmatch(r"Bearer ([^,\s]+)(?:,\s*User ([^,\s]+))?", header.strip())
        if match is None or not secrets.compare_digest(match.group(1), self.partner_token):
            raise Refused(401, "Partner authentication error")
        user_token = match.group(2)
        if user and (user_token is None or user_token not in self.user_tokens):
            raise Refused(401, "User authentication error")
        return user_token

    def _company(self, request: Request, *, user_token: str | None = None) -> YCompany:
        company = self.companies.get(int(request.path_params["company_id"]))
        if company is None:
            raise Refused(404, "Company not found")
        if user_token is not None and company.id not in self.user_tokens.get(user_token, set()):
            raise Refused(403, "No access to the company")
        return company

    def _count_request(self) -> None:
        now = time.monotonic()
        with self._lock:
            self.request_times.append(now)
            if not self.enforce_rate_limit:
                return
            last_second = sum(1 for t in self.request_times if now - t < 1.0)
            last_minute = sum(1 for t in self.request_times if now - t < 60.0)
        if last_second > PER_SECOND or last_minute > PER_MINUTE:
            self.refused_for_rate += 1
            raise Refused(429, "Too many requests")

    def _free(self, company: YCompany, staff: YStaff, start: datetime, length: int, ignore: int | None = None) -> bool:
        local = start.astimezone(company.tz)
        opening, closing = staff.hours.get(local.weekday(), (0, 0))
        day = local.replace(hour=0, minute=0, second=0, microsecond=0)
        if local < day + timedelta(hours=opening) or local + timedelta(seconds=length) > day + timedelta(hours=closing):
            return False
        end = start + timedelta(seconds=length)
        return not any(
            r.staff_id == staff.id and not r.deleted and r.id != ignore and r.start < end and start < r.end
            for r in self.records.values()
        )

    def _length(self, company: YCompany, service_ids: list[int]) -> int:
        return sum(company.services[s].seance_length for s in service_ids if s in company.services) or 3600

    def _seances(self, company: YCompany, staff: YStaff, day: date, service_ids: list[int]) -> list[dict[str, Any]]:
        if service_ids and not set(service_ids) <= staff.service_ids:
            return []
        length = self._length(company, service_ids)
        moment = datetime(day.year, day.month, day.day, tzinfo=company.tz)
        seances = []
        for _ in range(24 * 60 // self.slot_step_minutes):
            if self._free(company, staff, moment, length):
                seances.append(
                    {"time": moment.strftime("%H:%M"), "seance_length": length, "datetime": moment.isoformat()}
                )
            moment += timedelta(minutes=self.slot_step_minutes)
        return seances

    def _check(self, company: YCompany, appointments: Any) -> list[tuple[int, YStaff, list[int], datetime, int]]:
        if not isinstance(appointments, list) or not appointments:
            raise Refused(422, "No services or promotions set", code=422)
        planned: list[tuple[int, YStaff, list[int], datetime, int]] = []
        for item in appointments:
            appointment_id = int(item["id"])
            service_ids = [int(s) for s in item.get("services") or []]
            if any(s not in company.services or not company.services[s].bookable for s in service_ids):
                raise Refused(422, "The selected services are no longer available", code=438)
            start = datetime.fromisoformat(str(item["datetime"]))
            if start.tzinfo is None:
                start = start.replace(tzinfo=company.tz)
            length = self._length(company, service_ids)
            staff_id = int(item["staff_id"])
            if staff_id == 0:
                able = [s for s in company.staff.values() if set(service_ids) <= s.service_ids]
                free = [
                    s
                    for s in able
                    if self._free(company, s, start, length) and not _overlaps(planned, s, start, length)
                ]
                if not free:
                    raise Refused(422, "No staff available for booking", code=436)
                staff = free[0]
            else:
                found = company.staff.get(staff_id)
                if found is None or not set(service_ids) <= found.service_ids:
                    raise Refused(422, "The selected services are no longer available", code=438)
                staff = found
                if _overlaps(planned, staff, start, length):
                    raise Refused(
                        422,
                        f"Staff member {staff.name} ({staff.id}) cannot be booked: the time intersects another "
                        "appointment of this request",
                        code=437,
                        appointment_id=appointment_id,
                    )
                if not self._free(company, staff, start, length):
                    raise Refused(
                        422,
                        f"Staff member ({staff.id}) cannot be booked at {start.isoformat()}: the selected time is "
                        "already taken or is not working",
                        code=433,
                        appointment_id=appointment_id,
                    )
            planned.append((appointment_id, staff, service_ids, start, length))
        return planned

    def _record_json(self, record: YRecord) -> dict[str, Any]:
        company = self.companies[record.company_id]
        staff = company.staff[record.staff_id]
        client = company.clients[record.client_id]
        local = record.start.astimezone(company.tz)
        return {
            "id": record.id,
            "company_id": record.company_id,
            "staff_id": record.staff_id,
            "services": [
                {
                    "id": s,
                    "title": company.services[s].title,
                    "cost": company.services[s].price_min,
                    "discount": 0,
                    "amount": 1,
                }
                for s in record.service_ids
                if s in company.services
            ],
            "staff": {"id": staff.id, "name": staff.name, "specialization": staff.specialization},
            "client": {"id": client.id, "name": client.name, "phone": client.phone},
            "date": local.strftime("%Y-%m-%d %H:%M:%S"),
            "datetime": local.isoformat(),
            "create_date": record.created.astimezone(company.tz).isoformat(),
            "comment": record.comment,
            "seance_length": record.length,
            "length": record.length,
            "attendance": record.attendance,
            "deleted": record.deleted,
            "api_id": record.api_id,
            "online": True,
        }

    def app(self) -> Starlette:
        async def endpoint(request: Request) -> Response:
            self.calls.append((request.method, request.url.path))
            try:
                if request.headers.get("accept", "") not in V2_ACCEPT:
                    raise Refused(406, "Accept must be application/vnd.api.v2+json")
                self._count_request()
                failure = self._failures.popleft() if self._failures else None
                for planned in self._path_failures:
                    if failure is None and planned[0] == request.method and planned[1] in request.url.path:
                        self._path_failures.remove(planned)
                        failure = planned[2]
                        break
                if failure is not None:
                    headers = {"Retry-After": "1"} if failure == 429 else {}
                    return JSONResponse(
                        {"success": False, "data": None, "meta": {"message": "Failure"}}, failure, headers
                    )
                if self.delay_seconds:
                    await asyncio.sleep(self.delay_seconds)
                handler = request.scope["endpoint_handler"]
                return await handler(request)
            except Refused as refused:
                return refused.answer()
            except (KeyError, ValueError, TypeError) as error:
                return Refused(400, f"Bad request: {error}").answer()

        def route(path: str, handler: Any, methods: list[str]) -> Route:
            async def wrapped(request: Request) -> Response:
                request.scope["endpoint_handler"] = handler
                return await endpoint(request)

            return Route(path, wrapped, methods=methods)

        return Starlette(
            routes=[
                route("/api/v1/book_services/{company_id:int}", self._book_services, ["GET"]),
                route("/api/v1/book_staff/{company_id:int}", self._book_staff, ["GET"]),
                route("/api/v1/book_dates/{company_id:int}", self._book_dates, ["GET"]),
                route("/api/v1/book_times/{company_id:int}/{staff_id:int}/{date}", self._book_times, ["GET"]),
                route("/api/v1/book_check/{company_id:int}", self._book_check, ["POST"]),
                route("/api/v1/book_record/{company_id:int}", self._book_record, ["POST"]),
                route("/api/v1/book_record/{company_id:int}/{record_id:int}", self._reschedule, ["PUT"]),
                route("/api/v1/company/{company_id:int}", self._company_info, ["GET"]),
                route("/api/v1/records/{company_id:int}", self._records, ["GET"]),
                route("/api/v1/record/{company_id:int}/{record_id:int}", self._record, ["GET", "DELETE"]),
                route("/api/v1/clients/{company_id:int}", self._clients, ["GET", "POST"]),
            ]
        )

    async def _book_services(self, request: Request) -> Response:
        self._authenticate(request, user=False)
        company = self._company(request)
        staff_id = int(request.query_params.get("staff_id") or 0)
        staff = company.staff.get(staff_id) if staff_id else None
        services = [
            {
                "id": s.id,
                "title": s.title,
                "category_id": s.category_id,
                "price_min": s.price_min,
                "price_max": s.price_max,
                "discount": 0,
                "comment": s.comment,
                "weight": 0,
                "active": 1,
                "sex": 0,
                "image": "",
                "prepaid": "forbidden",
                "seance_length": s.seance_length,
            }
            for s in company.services.values()
            if s.bookable and (staff is None or s.id in staff.service_ids)
        ]
        categories = [
            {"id": cid, "title": title, "sex": 0, "api_id": 0, "weight": 0} for cid, title in company.categories.items()
        ]
        return _ok({"events": [], "services": services, "category": categories})

    async def _book_staff(self, request: Request) -> Response:
        self._authenticate(request, user=False)
        company = self._company(request)
        wanted = {int(s) for s in request.query_params.getlist("service_ids[]")}
        staff = [
            {
                "id": s.id,
                "name": s.name,
                "bookable": True,
                "specialization": s.specialization,
                "position": [],
                "show_rating": 0,
                "rating": 0,
                "votes_count": 0,
                "avatar": "",
                "comments_count": 0,
                "weight": 0,
                "information": "",
            }
            for s in company.staff.values()
            if wanted <= s.service_ids
        ]
        return _ok(staff)

    async def _book_dates(self, request: Request) -> Response:
        self._authenticate(request, user=False)
        company = self._company(request)
        service_ids = [int(s) for s in request.query_params.getlist("service_ids[]")]
        staff_id = int(request.query_params.get("staff_id") or 0)
        first = date.fromisoformat(request.query_params["date_from"])
        last = date.fromisoformat(request.query_params["date_to"])
        staff = [company.staff[staff_id]] if staff_id else list(company.staff.values())
        days: list[date] = []
        day = first
        while day <= last and len(days) < 366:
            if any(self._seances(company, s, day, service_ids) for s in staff):
                days.append(day)
            day += timedelta(days=1)
        booking_days: dict[str, list[str]] = {}
        for d in days:
            booking_days.setdefault(str(d.month), []).append(str(d.day))
        stamps = [int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) for d in days]
        return _ok(
            {
                "booking_days": booking_days,
                "booking_dates": stamps,
                "working_days": booking_days,
                "working_dates": stamps,
            }
        )

    async def _book_times(self, request: Request) -> Response:
        self._authenticate(request, user=False)
        company = self._company(request)
        service_ids = [int(s) for s in request.query_params.getlist("service_ids[]")]
        staff_id = int(request.path_params["staff_id"])
        day = date.fromisoformat(request.path_params["date"])
        if staff_id:
            if staff_id not in company.staff:
                raise Refused(404, "Staff member not found")
            return _ok(self._seances(company, company.staff[staff_id], day, service_ids))
        merged: dict[str, dict[str, Any]] = {}
        for staff in company.staff.values():
            for seance in self._seances(company, staff, day, service_ids):
                merged.setdefault(seance["datetime"], seance)
        return _ok(sorted(merged.values(), key=lambda s: s["datetime"]))

    async def _book_check(self, request: Request) -> Response:
        self._authenticate(request, user=False)
        company = self._company(request)
        self._check(company, (await request.json()).get("appointments"))
        return JSONResponse({"success": True, "meta": {"message": "Created"}}, status_code=201)

    async def _book_record(self, request: Request) -> Response:
        self._authenticate(request, user=False)
        company = self._company(request)
        body = await request.json()
        phone = str(body.get("phone") or "")
        if not PHONE.match(phone):
            raise Refused(422, "Wrong phone number format", code=431)
        if not str(body.get("fullname") or "").strip():
            raise Refused(422, "The client's name is not set", code=435)
        planned = self._check(company, body.get("appointments"))
        digits = phone.lstrip("+")
        client = next((c for c in company.clients.values() if c.phone.lstrip("+") == digits), None)
        if client is None:
            client = self.add_client(company, str(body["fullname"]), "+" + digits)
        created = []
        for appointment_id, staff, service_ids, start, length in planned:
            record = YRecord(
                next(self._ids),
                company.id,
                staff.id,
                service_ids,
                client.id,
                start,
                length,
                comment=str(body.get("comment") or ""),
                api_id=str(body.get("api_id") or ""),
            )
            self.records[record.id] = record
            created.append({"id": appointment_id, "record_id": record.id, "record_hash": record.hash})
        return JSONResponse({"success": True, "data": created, "meta": []}, status_code=201)

    async def _reschedule(self, request: Request) -> Response:
        self._authenticate(request, user=True)
        company = self._company(request)
        record = self.records.get(int(request.path_params["record_id"]))
        if record is None or record.company_id != company.id or record.deleted:
            raise Refused(404, "Record not found")
        body = await request.json()
        start = datetime.fromisoformat(str(body["datetime"]))
        if not self._free(company, company.staff[record.staff_id], start, record.length, ignore=record.id):
            raise Refused(422, "The selected time is already taken", code=433, appointment_id=record.id)
        record.start = start.astimezone(UTC)
        if "comment" in body:
            record.comment = str(body["comment"])
        return _ok(self._record_json(record))

    async def _company_info(self, request: Request) -> Response:
        self._authenticate(request, user=False)
        company = self._company(request)
        return _ok({"id": company.id, "title": company.title, "timezone": company.utc_offset_hours})

    async def _records(self, request: Request) -> Response:
        user_token = self._authenticate(request, user=True)
        company = self._company(request, user_token=user_token)
        client_id = request.query_params.get("client_id")
        start_date = request.query_params.get("start_date")
        count = min(int(request.query_params.get("count") or 25), 200)
        page = max(int(request.query_params.get("page") or 1), 1)
        chosen = [
            r
            for r in sorted(self.records.values(), key=lambda r: r.start)
            if r.company_id == company.id
            and not r.deleted
            and (client_id is None or r.client_id == int(client_id))
            and (start_date is None or r.start.astimezone(company.tz).date() >= date.fromisoformat(start_date))
        ]
        window = chosen[(page - 1) * count : page * count]
        return JSONResponse(
            {"success": True, "data": [self._record_json(r) for r in window], "meta": {"count": len(chosen)}}
        )

    async def _record(self, request: Request) -> Response:
        user_token = self._authenticate(request, user=True)
        company = self._company(request, user_token=user_token)
        record = self.records.get(int(request.path_params["record_id"]))
        if record is None or record.company_id != company.id or (record.deleted and request.method == "DELETE"):
            raise Refused(404, "Record not found")
        if request.method == "DELETE":
            record.deleted = True
            return Response(status_code=204)
        return _ok(self._record_json(record))

    async def _clients(self, request: Request) -> Response:
        user_token = self._authenticate(request, user=True)
        company = self._company(request, user_token=user_token)
        if request.method == "POST":
            body = await request.json()
            phone = str(body.get("phone") or "")
            if not PHONE.match(phone) or not str(body.get("name") or "").strip():
                raise Refused(422, "Name and phone are required")
            client = self.add_client(company, str(body["name"]), "+" + phone.lstrip("+"))
            return JSONResponse({"success": True, "data": _client_json(client), "meta": []}, status_code=201)
        phone = (request.query_params.get("phone") or "").lstrip("+")
        found = [_client_json(c) for c in company.clients.values() if not phone or c.phone.lstrip("+") == phone]
        return JSONResponse({"success": True, "data": found, "meta": {"total_count": len(found)}})


def _overlaps(
    planned: list[tuple[int, YStaff, list[int], datetime, int]], staff: YStaff, start: datetime, length: int
) -> bool:
    end = start + timedelta(seconds=length)
    return any(
        s.id == staff.id and other < end and start < other + timedelta(seconds=other_length)
        for _, s, _, other, other_length in planned
    )


def _client_json(client: YClient) -> dict[str, Any]:
    return {"id": client.id, "name": client.name, "phone": client.phone, "email": ""}


def _ok(data: Any) -> JSONResponse:
    return JSONResponse({"success": True, "data": data, "meta": []})


class YclientsServer(ThreadedServer):
    def __init__(self) -> None:
        self.double = YclientsDouble()

        # A plain coroutine function, so uvicorn takes it for ASGI 3; it serves whichever double is current.
        async def dispatch(scope: Any, receive: Any, send: Any) -> None:
            await self._app(scope, receive, send)

        super().__init__(dispatch, "yclients-double")

    def reset(self) -> YclientsDouble:
        self.double = YclientsDouble()
        self._app = self.double.app()
        return self.double

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1"


@pytest.fixture(scope="session")
def yclients_server_session() -> Iterator[YclientsServer]:
    server = YclientsServer()
    server.reset()
    with server:
        yield server


@pytest.fixture
def yclients(yclients_server_session: YclientsServer) -> YclientsServer:
    """The session's YCLIENTS server with a fresh double (no companies, an empty request log)."""
    yclients_server_session.reset()
    return yclients_server_session
