"""A YCLIENTS company in the double and a runtime pointed at it, shared by the YCLIENTS tests."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import httpx
import pytest
from pydantic import SecretStr

from easyflow.app import create_app
from easyflow.booking.yclients.backend import YclientsBackend, yclients_client
from easyflow.config import Settings
from easyflow.runtime import Runtime
from tests.doubles.yclients import YClient, YclientsDouble, YclientsServer, YCompany, YService, YStaff

USER_TOKEN = "user0token0of0the0salon0a1b2c3d4"


@dataclass
class Salon:
    double: YclientsDouble
    company: YCompany
    haircut: YService
    colouring: YService
    anna: YStaff
    olga: YStaff
    regular: YClient

    def tomorrow(self) -> date:
        return (datetime.now(self.company.tz) + timedelta(days=1)).date()

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """A local wall-clock time of the salon, as an aware UTC datetime."""
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=self.company.tz).astimezone(UTC)


def yclients_settings(settings: Settings, server: YclientsServer, **changes: object) -> Settings:
    return settings.model_copy(
        update={
            "yclients_base_url": server.base_url,
            "yclients_partner_token": SecretStr(server.double.partner_token),
            "yclients_timeout_seconds": 5.0,
            **changes,
        }
    )


@pytest.fixture
def salon(yclients: YclientsServer) -> Salon:
    double = yclients.double
    company = double.add_company("Салон «Лотос»", utc_offset_hours=3)
    haircut = double.add_service(company, "Стрижка женская", 60, price=2500, category="Парикмахерская")
    colouring = double.add_service(company, "Окрашивание", 90, price=5000, category="Парикмахерская")
    anna = double.add_staff(company, "Анна", [haircut, colouring], "Стилист")
    olga = double.add_staff(company, "Ольга", [haircut], "Парикмахер")
    regular = double.add_client(company, "Мария", "+79161234567")
    double.authorize(USER_TOKEN, company)
    return Salon(double, company, haircut, colouring, anna, olga, regular)


@pytest.fixture
def yc_runtime(runtime: Runtime, settings: Settings, yclients: YclientsServer) -> Runtime:
    runtime.settings = yclients_settings(settings, yclients)
    return runtime


@pytest.fixture
def backend(yc_runtime: Runtime, salon: Salon) -> YclientsBackend:
    return YclientsBackend(yclients_client(yc_runtime, USER_TOKEN), salon.company.id)


@pytest.fixture
async def yc_client(yc_runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(yc_runtime.settings, runtime=yc_runtime)
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
