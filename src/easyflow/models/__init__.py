"""Every ORM model, imported here so metadata is complete wherever models are used."""

from easyflow.models.agents import Assistant, ModelProvider
from easyflow.models.conversations import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Message,
    MessageRole,
)
from easyflow.models.tenancy import ApiKey, Membership, RefreshToken, Role, Tenant, User

__all__ = [
    "ApiKey",
    "Assistant",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "ConversationStatus",
    "DeliveryStatus",
    "Membership",
    "Message",
    "MessageRole",
    "ModelProvider",
    "RefreshToken",
    "Role",
    "Tenant",
    "User",
]
