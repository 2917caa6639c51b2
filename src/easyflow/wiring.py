"""Import every module that registers background jobs or channels, so a process that runs them knows all."""

from collections.abc import Coroutine
from typing import Any

from easyflow.booking import chat_port as _booking_chat
from easyflow.booking import tasks as _booking_tasks
from easyflow.booking import yclients as _yclients_backend
from easyflow.catalogue import assistant as _catalogue_assistant
from easyflow.channels import api as _api_channel
from easyflow.channels import telegram as _telegram_channel
from easyflow.channels import telegram_files as _telegram_files
from easyflow.channels import viber as _viber_channel
from easyflow.channels import vk as _vk_channel
from easyflow.channels import whatsapp as _whatsapp_channel
from easyflow.channels import widget as _widget_channel
from easyflow.channels.polling import TelegramPoller
from easyflow.config import Settings
from easyflow.conversations import tasks as _conversation_tasks
from easyflow.crm.funnel import assistant as _funnel_assistant
from easyflow.crm.funnel import tasks as _funnel_tasks
from easyflow.crm.imports import tasks as _import_tasks
from easyflow.crm.imports.tasks import IMPORTS_QUEUE
from easyflow.crm.partners import tasks as _partner_tasks
from easyflow.inbox import tasks as _inbox_tasks
from easyflow.kit.jobs import WorkerPool
from easyflow.knowledge import tasks as _knowledge_tasks
from easyflow.knowledge.tasks import KNOWLEDGE_QUEUE
from easyflow.runtime import Runtime

REGISTERING_MODULES = (
    _yclients_backend,
    _booking_tasks,
    _api_channel,
    _telegram_channel,
    _telegram_files,
    _whatsapp_channel,
    _vk_channel,
    _viber_channel,
    _widget_channel,
    _catalogue_assistant,
    _conversation_tasks,
    _funnel_assistant,
    _booking_chat,
    _funnel_tasks,
    _import_tasks,
    _partner_tasks,
    _inbox_tasks,
    _knowledge_tasks,
)


def worker_companions(runtime: Runtime) -> list[Coroutine[Any, Any, None]]:
    """Loops every worker runs beside the job queue."""
    return [TelegramPoller(runtime).run()]


def worker_pools(settings: Settings, *, replies: int | None = None, ingestion: int | None = None) -> list[WorkerPool]:
    """A worker's slots: bulk work (the knowledge base's, chat imports) in a pool of its own, so it can never
    hold the slots a customer's reply needs; every other queue (conversations first of all) in the replies pool."""
    return [
        WorkerPool("replies", replies or settings.worker_concurrency),
        WorkerPool("ingestion", ingestion or settings.worker_ingestion_concurrency, (KNOWLEDGE_QUEUE, IMPORTS_QUEUE)),
    ]
