"""The demo tenant `easyflow demo` serves: created once, given a fresh API key on every start."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from easyflow.channels.repository import ChannelRepository
from easyflow.channels.schemas import WidgetChannelCreate, WidgetSettingsUpdate
from easyflow.channels.service import ChannelConnections
from easyflow.channels.widget import CHANNEL_TYPE as WIDGET
from easyflow.channels.widget import widget_config
from easyflow.config import Settings
from easyflow.db.database import Database
from easyflow.db.session import enter_system_scope, scope_to_tenant
from easyflow.kit.security import hash_password, verify_password
from easyflow.knowledge.schemas import QaCreate
from easyflow.knowledge.service import QaService
from easyflow.models.tenancy import Role
from easyflow.runtime import Runtime
from easyflow.tenancy import schemas
from easyflow.tenancy.repository import MembershipDirectory, UserRepository
from easyflow.tenancy.service import ApiKeyService, TenantService

DEMO_EMAIL = "demo-owner@example.com"
DEMO_PASSWORD = "demo-lotos-garden"
DEMO_TENANT_NAME = "Салон «Демо»"
DEMO_WIDGET_NAME = "Demo shop widget"
# What the demo shop's assistant knows (the offline answerer replies from these without any LLM).
DEMO_ANSWERS = (
    ("Сколько стоит доставка?", "Доставка по городу — 300 ₽, бесплатно при заказе от 3000 ₽. Привозим за 1–2 дня."),
    ("Можно ли вернуть товар?", "Да, вернуть товар можно в течение 14 дней, если сохранены упаковка и чек."),
    ("Как оплатить заказ?", "Оплатить можно картой на сайте, по СБП или наличными курьеру."),
    ("When are you open?", "We answer every day from 9:00 to 21:00 (Moscow time); the shop takes orders 24/7."),
)


@dataclass(frozen=True)
class SeededDemo:
    tenant_id: str
    api_key: str
    widget_key: str


async def seed_demo(database: Database, settings: Settings, widget_origins: list[str]) -> SeededDemo:
    """The demo tenant (created on the first start) with a fresh API key, and its shop widget, allowed on
    the origins the demo is served from."""
    runtime = Runtime.create(settings, database)
    try:
        async with database.session() as session, session.begin():
            await enter_system_scope(session)
            owner = await UserRepository(session).get_by_email(DEMO_EMAIL)
            memberships = await MembershipDirectory(session).of_user(owner.id) if owner else []
            if not memberships:
                created = await TenantService(session).create(DEMO_TENANT_NAME, DEMO_EMAIL, DEMO_PASSWORD)
                tenant_id, api_key = created.tenant.id, created.api_key
                await scope_to_tenant(session, tenant_id)
            else:
                if owner is not None and not verify_password(owner.password_hash, DEMO_PASSWORD):
                    # A demo folder from before the password rules had a weaker one; the banner shows this one.
                    owner.password_hash = hash_password(DEMO_PASSWORD)
                tenant_id = memberships[0][0].tenant_id
                await scope_to_tenant(session, tenant_id)
                _, api_key = await ApiKeyService(session, tenant_id).create(
                    schemas.ApiKeyCreate(name="Demo session key", role=Role.admin), created_by=None
                )
        widget_key = await _demo_widget(runtime, tenant_id, widget_origins)
        return SeededDemo(tenant_id=str(tenant_id), api_key=api_key, widget_key=widget_key)
    finally:
        await runtime.close()


async def _demo_widget(runtime: Runtime, tenant_id: uuid.UUID, origins: list[str]) -> str:
    async with runtime.database.tenant_transaction(tenant_id) as session:
        qa = QaService(session, tenant_id)
        if (await qa.list(limit=1, offset=0))[1] == 0:  # on every start, so a start that failed halfway is mended
            for question, answer in DEMO_ANSWERS:
                await qa.create(QaCreate(question=question, answer=answer))
        channels = await ChannelRepository(session).list(limit=500)
        widget = next((c for c in channels if c.type == WIDGET and c.name == DEMO_WIDGET_NAME), None)
        if widget is not None:
            settings = WidgetSettingsUpdate.model_validate({"allowed_origins": origins})
            widget.config = widget_config(settings, widget.config)
            assert widget.public_key is not None
            return widget.public_key
    created = await ChannelConnections(runtime, tenant_id).connect(
        WidgetChannelCreate.model_validate(
            {"type": "widget", "name": DEMO_WIDGET_NAME, "allowed_origins": origins, "title": "Демо-магазин"}
        )
    )
    assert created.public_key is not None
    return created.public_key
