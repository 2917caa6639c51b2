"""The demo tenant `easyflow demo` serves: created once, given a fresh API key on every start."""

from __future__ import annotations

from dataclasses import dataclass

from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.models.tenancy import Role
from easyflow.tenancy import schemas
from easyflow.tenancy.repository import MembershipDirectory, UserRepository
from easyflow.tenancy.service import ApiKeyService, TenantService

DEMO_EMAIL = "demo-owner@example.com"
DEMO_PASSWORD = "demo-password"
DEMO_TENANT_NAME = "Салон «Демо»"


@dataclass(frozen=True)
class SeededDemo:
    tenant_id: str
    api_key: str


async def seed_demo(database: Database) -> SeededDemo:
    async with database.session() as session, session.begin():
        await enter_system_scope(session)
        owner = await UserRepository(session).get_by_email(DEMO_EMAIL)
        memberships = await MembershipDirectory(session).of_user(owner.id) if owner else []
        if not memberships:
            created = await TenantService(session).create(DEMO_TENANT_NAME, DEMO_EMAIL, DEMO_PASSWORD)
            return SeededDemo(tenant_id=str(created.tenant.id), api_key=created.api_key)
        tenant_id = memberships[0][0].tenant_id
        await scope_to_tenant(session, tenant_id)
        _, api_key = await ApiKeyService(session, tenant_id).create(
            schemas.ApiKeyCreate(name="Demo session key", role=Role.admin), created_by=None
        )
        return SeededDemo(tenant_id=str(tenant_id), api_key=api_key)
