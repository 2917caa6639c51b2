"""What assistants say when they speak for themselves, in each supported language."""

from __future__ import annotations

from datetime import datetime

PHRASES: dict[str, dict[str, str]] = {
    "greeting": {
        "ru": "Здравствуйте! Я виртуальный помощник. Чем могу помочь?",
        "en": "Hello! I am the virtual assistant. How can I help?",
    },
    # The apologies below are followed by what happens next ("handoff" or "handoff_nobody_on_duty").
    "dont_know": {
        "ru": "К сожалению, я не нашёл точного ответа на ваш вопрос.",
        "en": "Sorry, I could not find a reliable answer to your question.",
    },
    "dont_know_alone": {
        "ru": "К сожалению, я не нашёл точного ответа на ваш вопрос. Попробуйте спросить иначе — или нажмите "
        "«Позвать оператора», и вам ответит сотрудник.",
        "en": "Sorry, I could not find a reliable answer to your question. Try asking another way, or press "
        "“Talk to a person” and a colleague will reply.",
    },
    "handoff": {
        "ru": "Передаю диалог сотруднику — он ответит вам здесь же. Пожалуйста, оставайтесь в чате.",
        "en": "I am passing the conversation to a colleague, who will reply to you right here. "
        "Please stay in the chat.",
    },
    "handoff_after_hours": {
        "ru": "Передаю диалог сотруднику. Сейчас мы не работаем — вам ответят здесь же {when}.",
        "en": "I am passing the conversation to a colleague. We are closed right now: you will get an answer "
        "right here {when}.",
    },
    "handoff_nobody_on_duty": {
        "ru": "Передаю диалог сотруднику. Сейчас никого нет на месте — вам ответят здесь же, как только "
        "сотрудник освободится.",
        "en": "I am passing the conversation to a colleague. Nobody is available right now: you will get an "
        "answer right here as soon as someone is.",
    },
    "while_waiting": {
        "ru": "Пока сотрудник не подключился, отвечу я.",
        "en": "Until a colleague joins, I will answer.",
    },
    "human_button": {"ru": "Позвать оператора", "en": "Talk to a person"},
    "source": {"ru": "Источник", "en": "Source"},
    # Before a quoted passage in another language than the customer's (the only one that answers).
    "only_in_en": {
        "ru": "Ответ на ваш вопрос я нашёл только на английском:",
        "en": "I found the answer to your question only in English:",
    },
    "only_in_ru": {
        "ru": "Ответ на ваш вопрос я нашёл только на русском:",
        "en": "I found the answer to your question only in Russian:",
    },
    "timeout": {
        "ru": "Извините, мне нужно больше времени, чем следует.",
        "en": "Sorry, this is taking me longer than it should.",
    },
    "unavailable": {
        "ru": "Извините, сейчас я не могу ответить.",
        "en": "Sorry, I cannot answer right now.",
    },
    # Customer satisfaction: asked when a person resolved the conversation, with buttons 1 to 5.
    "csat_request": {
        "ru": "Пожалуйста, оцените, как мы вам помогли: от 1 (плохо) до 5 (отлично).",
        "en": "Please rate how we helped you: from 1 (poor) to 5 (excellent).",
    },
    "csat_thanks": {
        "ru": "Спасибо за оценку! Если хотите, напишите одним сообщением, что понравилось или что нам стоит улучшить.",
        "en": "Thank you for your rating! If you like, tell us in one message what went well or what we could "
        "do better.",
    },
    "csat_comment_thanks": {"ru": "Спасибо за отзыв!", "en": "Thank you for your feedback!"},
}


def phrase(key: str, language: str) -> str:
    options = PHRASES[key]
    return options.get(language, options["ru"])


_WEEKDAYS = {
    "ru": ("в понедельник", "во вторник", "в среду", "в четверг", "в пятницу", "в субботу", "в воскресенье"),
    "en": ("on Monday", "on Tuesday", "on Wednesday", "on Thursday", "on Friday", "on Saturday", "on Sunday"),
}
_MONTHS_RU = (
    "января", "февраля", "марта", "апреля", "мая", "июня",
    "июля", "августа", "сентября", "октября", "ноября", "декабря",
)  # fmt: skip
_MONTHS_EN = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip


def when_back(at: datetime, now: datetime, language: str) -> str:
    """When `at` is, as a customer reads it in `at`'s own time zone: «сегодня в 14:00», «завтра в 09:00»,
    «в понедельник, 7 декабря, в 09:00» ("today at 14:00", "on Monday 7 December at 09:00")."""
    english = language == "en"
    days = (at.date() - now.astimezone(at.tzinfo).date()).days
    clock = at.strftime("%H:%M")
    if days == 0:
        return f"today at {clock}" if english else f"сегодня в {clock}"
    if days == 1:
        return f"tomorrow at {clock}" if english else f"завтра в {clock}"
    weekday = _WEEKDAYS["en" if english else "ru"][at.weekday()]
    if english:
        return f"{weekday} {at.day} {_MONTHS_EN[at.month - 1]} at {clock}"
    return f"{weekday}, {at.day} {_MONTHS_RU[at.month - 1]}, в {clock}"
