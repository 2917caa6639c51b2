"""What assistants say when they speak for themselves, in each supported language."""

from __future__ import annotations

PHRASES: dict[str, dict[str, str]] = {
    "greeting": {
        "ru": "Здравствуйте! Я виртуальный помощник. Чем могу помочь?",
        "en": "Hello! I am the virtual assistant. How can I help?",
    },
    "dont_know": {
        "ru": "К сожалению, я не нашёл точного ответа на ваш вопрос. Я передал диалог сотруднику — "
        "вам ответят в ближайшее время.",
        "en": "Sorry, I could not find a reliable answer to your question. I have passed the conversation "
        "to a colleague, who will reply shortly.",
    },
    "human_button": {"ru": "Позвать оператора", "en": "Talk to a person"},
    "source": {"ru": "Источник", "en": "Source"},
    "timeout": {
        "ru": "Извините, мне нужно чуть больше времени. Я передал ваш вопрос сотруднику — вам скоро ответят.",
        "en": "Sorry, this is taking me longer than it should. I have passed your question to a colleague, "
        "who will reply shortly.",
    },
    "unavailable": {
        "ru": "Извините, сейчас я не могу ответить. Я передал ваш вопрос сотруднику — вам скоро ответят.",
        "en": "Sorry, I cannot answer right now. I have passed your question to a colleague, who will reply shortly.",
    },
}


def phrase(key: str, language: str) -> str:
    options = PHRASES[key]
    return options.get(language, options["ru"])
