"""Import every module that registers background jobs or channels, so a process that runs them knows all."""

from collections.abc import Coroutine
from typing import Any

from easyflow.channels import api as _api_channel
from easyflow.channels import telegram as _telegram_channel
from easyflow.channels import telegram_files as _telegram_files
from easyflow.channels import widget as _widget_channel
from easyflow.channels.polling import TelegramPoller
from easyflow.conversations import tasks as _conversation_tasks
from easyflow.knowledge import tasks as _knowledge_tasks
from easyflow.runtime import Runtime

REGISTERING_MODULES = (
    _api_channel,
    _telegram_channel,
    _telegram_files,
    _widget_channel,
    _conversation_tasks,
    _knowledge_tasks,
)


def worker_companions(runtime: Runtime) -> list[Coroutine[Any, Any, None]]:
    """Loops every worker runs beside the job queue."""
    return [TelegramPoller(runtime).run()]
