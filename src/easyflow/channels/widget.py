"""Website chat widgets: connecting one gives the page its public key and the site its identity secret;
a visitor proves who they are with a signed token, and a site may vouch for its signed-in customer with an
HMAC of their id. Replies reach the visitor live (see channels.widget_routes), so nothing is pushed."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt

from easyflow.channels.base import Connection
from easyflow.conversations.ports import Delivery, Outgoing, register
from easyflow.kit.errors import Unauthorized
from easyflow.kit.security import constant_time_equals, new_public_id, new_secret
from easyflow.models.channels import ChannelRecord
from easyflow.models.conversations import DeliveryStatus

if TYPE_CHECKING:
    from easyflow.channels.schemas import WidgetChannelCreate, WidgetSettingsUpdate
    from easyflow.runtime import Runtime

CHANNEL_TYPE = "widget"
# Anonymous visitors are known per widget ("<channel id>:<random>"); a site's signed-in customers by the
# site's own user id, the same across the tenant's widgets.
VISITOR_IDENTITY = "widget"
SITE_USER_IDENTITY = "site_user"
VISITOR_AUDIENCE = "easyflow:widget-visitor"
VISITOR_TOKEN_DAYS = 365
ALGORITHM = "HS256"


@dataclass(frozen=True)
class VisitorIdentity:
    kind: str
    external_id: str


def widget_config(request: WidgetChannelCreate | WidgetSettingsUpdate, current: dict[str, Any]) -> dict[str, Any]:
    """The channel's public settings with the request's values applied (fields it leaves out are kept)."""
    config = dict(current)
    if request.allowed_origins is not None:
        config["allowed_origins"] = [str(origin).rstrip("/").lower() for origin in request.allowed_origins]
    for name in ("title", "greeting", "color", "position", "prechat_fields"):
        value = getattr(request, name)
        if value is not None:
            config[name] = value
    return config


def origin_allowed(channel: ChannelRecord, origin: str) -> bool:
    return origin.rstrip("/").lower() in channel.config.get("allowed_origins", [])


def identity_signature(identity_secret: str, user_id: str) -> str:
    """What a site computes server-side to vouch for its signed-in customer: hex HMAC-SHA256(secret, user id)."""
    return hmac.new(identity_secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def signature_valid(identity_secret: str, user_id: str, signature: str) -> bool:
    return constant_time_equals(identity_signature(identity_secret, user_id), signature.lower())


def anonymous_visitor(channel_id: uuid.UUID) -> VisitorIdentity:
    return VisitorIdentity(VISITOR_IDENTITY, f"{channel_id}:{new_public_id(16)}")


def issue_visitor_token(signing_key: str, channel_id: uuid.UUID, visitor: VisitorIdentity) -> str:
    now = datetime.now(UTC)
    claims = {
        "aud": VISITOR_AUDIENCE,
        "ch": str(channel_id),
        "kind": visitor.kind,
        "sub": visitor.external_id,
        "iat": now,
        "exp": now + timedelta(days=VISITOR_TOKEN_DAYS),
    }
    return jwt.encode(claims, signing_key, algorithm=ALGORITHM)


def read_visitor_token(signing_key: str, token: str, channel_id: uuid.UUID) -> VisitorIdentity:
    """The visitor a token names; Unauthorized when it is forged, expired or was issued by another widget."""
    try:
        claims = jwt.decode(
            token,
            signing_key,
            algorithms=[ALGORITHM],
            audience=VISITOR_AUDIENCE,
            options={"require": ["exp", "sub", "ch", "kind", "aud"]},
        )
    except jwt.InvalidTokenError as error:
        raise Unauthorized("The visitor token is invalid or expired; start a new chat session.") from error
    if claims["ch"] != str(channel_id) or claims["kind"] not in (VISITOR_IDENTITY, SITE_USER_IDENTITY):
        raise Unauthorized("The visitor token belongs to another chat widget.")
    return VisitorIdentity(claims["kind"], claims["sub"])


class WidgetChannel:
    type = CHANNEL_TYPE
    watched_live = True

    def pushes(self, tenant_webhook_url: str | None) -> bool:
        return False

    async def connect(self, runtime: Runtime, channel_id: uuid.UUID, request: WidgetChannelCreate) -> Connection:
        identity_secret = new_secret()
        return Connection(
            credentials={"identity_secret": identity_secret},
            config=widget_config(request, {"title": request.title or request.name}),
            public_key="wk_" + new_public_id(12),
            shown_once={"identity_secret": identity_secret},
        )

    async def disconnect(self, runtime: Runtime, channel_id: uuid.UUID, credentials: dict[str, str]) -> None:
        return None

    async def deliver(self, runtime: Runtime, outgoing: Outgoing) -> Delivery:
        return Delivery(DeliveryStatus.stored)  # the visitor's page reads it (live or on its next visit)


register(WidgetChannel())
