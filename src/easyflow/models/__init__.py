"""Every ORM model, imported here so metadata is complete wherever models are used."""

from easyflow.models.agents import Assistant, ModelProvider
from easyflow.models.channels import ChannelRecord, ChannelStatus
from easyflow.models.conversations import (
    Contact,
    ContactIdentity,
    Conversation,
    ConversationFile,
    ConversationStatus,
    DeliveryStatus,
    Message,
    MessageRole,
)
from easyflow.models.knowledge import Chunk, Document, DocumentFile, DocumentStatus, QaPair
from easyflow.models.tenancy import ApiKey, Membership, RefreshToken, Role, Tenant, User

__all__ = [
    "ApiKey",
    "Assistant",
    "ChannelRecord",
    "ChannelStatus",
    "Chunk",
    "Contact",
    "ContactIdentity",
    "Conversation",
    "ConversationFile",
    "ConversationStatus",
    "DeliveryStatus",
    "Document",
    "DocumentFile",
    "DocumentStatus",
    "Membership",
    "Message",
    "MessageRole",
    "ModelProvider",
    "QaPair",
    "RefreshToken",
    "Role",
    "Tenant",
    "User",
]
