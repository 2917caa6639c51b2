"""Every ORM model, imported here so metadata is complete wherever models are used."""

from easyflow.models.agents import Assistant, ModelProvider
from easyflow.models.audit import AuditEvent
from easyflow.models.booking import (
    Appointment,
    AppointmentReminder,
    AppointmentSource,
    AppointmentStatus,
    BookingSettings,
)
from easyflow.models.booking_chat import BookingDialogue, DialogueState
from easyflow.models.booking_connections import BookingConnection, BookingSyncEvent
from easyflow.models.catalogue import Product, Resource, ResourceService, Service, StaffMember, StaffService
from easyflow.models.channels import ChannelRecord, ChannelStatus
from easyflow.models.contacts import ContactFieldDefinition, ContactFieldKind, ContactNote
from easyflow.models.conversations import (
    ActorKind,
    Contact,
    ContactIdentity,
    Conversation,
    ConversationEvent,
    ConversationFile,
    ConversationRating,
    ConversationStatus,
    DeliveryStatus,
    Message,
    MessageRole,
)
from easyflow.models.crm import (
    CrmTask,
    Deal,
    DealFollowUp,
    DealMove,
    FunnelRule,
    FunnelRuleRun,
    MoveActor,
    Pipeline,
    PipelineStage,
    StageKind,
)
from easyflow.models.crm_imports import ChatImport, ChatImportFile, ChatImportStatus
from easyflow.models.crm_partners import Partner, PartnerTransfer, ReachBy, TransferStatus
from easyflow.models.dashboard import DashboardSession
from easyflow.models.inbox import CannedResponse, OperatorPresence, Presence, Team, TeamMember
from easyflow.models.knowledge import Chunk, Document, DocumentFile, DocumentStatus, QaPair
from easyflow.models.live import StaffEvent, StaffEventCounter
from easyflow.models.notifications import StaffLinkToken, StaffNotificationPreferences, StaffTelegramLink
from easyflow.models.tenancy import (
    ApiKey,
    Membership,
    RecoveryCode,
    RefreshToken,
    Role,
    Tenant,
    TwoFactorCredential,
    User,
)

__all__ = [
    "ActorKind",
    "ApiKey",
    "Appointment",
    "AppointmentReminder",
    "AppointmentSource",
    "AppointmentStatus",
    "Assistant",
    "AuditEvent",
    "BookingConnection",
    "BookingDialogue",
    "BookingSettings",
    "BookingSyncEvent",
    "CannedResponse",
    "ChannelRecord",
    "ChannelStatus",
    "ChatImport",
    "ChatImportFile",
    "ChatImportStatus",
    "Chunk",
    "Contact",
    "ContactFieldDefinition",
    "ContactFieldKind",
    "ContactIdentity",
    "ContactNote",
    "Conversation",
    "ConversationEvent",
    "ConversationFile",
    "ConversationRating",
    "ConversationStatus",
    "CrmTask",
    "DashboardSession",
    "Deal",
    "DealFollowUp",
    "DealMove",
    "DeliveryStatus",
    "DialogueState",
    "Document",
    "DocumentFile",
    "DocumentStatus",
    "FunnelRule",
    "FunnelRuleRun",
    "Membership",
    "Message",
    "MessageRole",
    "ModelProvider",
    "MoveActor",
    "OperatorPresence",
    "Partner",
    "PartnerTransfer",
    "Pipeline",
    "PipelineStage",
    "Presence",
    "Product",
    "QaPair",
    "ReachBy",
    "RecoveryCode",
    "RefreshToken",
    "Resource",
    "ResourceService",
    "Role",
    "Service",
    "StaffEvent",
    "StaffEventCounter",
    "StaffLinkToken",
    "StaffMember",
    "StaffNotificationPreferences",
    "StaffService",
    "StaffTelegramLink",
    "StageKind",
    "Team",
    "TeamMember",
    "Tenant",
    "TransferStatus",
    "TwoFactorCredential",
    "User",
]
