"""What assistants say when they speak for themselves, in each supported language."""

from __future__ import annotations

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
