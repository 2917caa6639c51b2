"""What the booking dialogue says to customers, in Russian and English, and how it names days and times."""

from __future__ import annotations

from datetime import date, datetime

PHRASES: dict[str, dict[str, str]] = {
    "confirm": {"ru": "Подтвердить", "en": "Confirm"},
    "change": {"ru": "Изменить", "en": "Change"},
    "anyone": {"ru": "Любой мастер", "en": "Anyone"},
    "choose_service": {"ru": "На какую услугу вас записать?", "en": "Which service would you like to book?"},
    "choose_staff": {"ru": "К кому вас записать?", "en": "Who would you like to see?"},
    "choose_day": {"ru": "Выберите день:", "en": "Choose a day:"},
    "choose_time": {"ru": "Свободное время, {day}:", "en": "Free times, {day}:"},
    "nothing_then": {
        "ru": "На это время записаться нельзя. Выберите, пожалуйста, из свободного:",
        "en": "That time is not available. Please choose one of the free times:",
    },
    "no_days": {
        "ru": "К сожалению, в ближайшие две недели свободного времени нет.",
        "en": "Sorry, there is no free time in the next two weeks.",
    },
    "no_services": {"ru": "Онлайн-запись сейчас недоступна.", "en": "Online booking is not available now."},
    "ask_name": {"ru": "Как вас зовут?", "en": "What is your name?"},
    "ask_phone": {
        "ru": "Ваш номер телефона (например, +7 900 123-45-67)?",
        "en": "Your phone number (for example, +44 7700 900123)?",
    },
    "bad_phone": {
        "ru": "Не похоже на номер телефона. Напишите номер целиком, например +7 900 123-45-67.",
        "en": "That does not look like a phone number. Please write it in full, e.g. +44 7700 900123.",
    },
    "propose": {"ru": "Проверьте, пожалуйста:\n{summary}", "en": "Please check:\n{summary}"},
    "appointment": {
        "ru": "Запись: {service}, {when}, мастер: {staff}",
        "en": "Booking: {service}, {when}, with {staff}",
    },
    "booked": {"ru": "Готово! Вы записаны. {summary}", "en": "Done! You are booked. {summary}"},
    "slot_taken": {
        "ru": "Это время только что заняли. Выберите, пожалуйста, другое.",
        "en": "That time was just taken. Please choose another.",
    },
    "nothing_to_confirm": {
        "ru": "Подтверждать нечего: ни одно действие не ждёт подтверждения.",
        "en": "There is nothing to confirm: no action is waiting for it.",
    },
    "expired": {
        "ru": "Время на подтверждение истекло, ничего не сделано. Давайте выберем заново.",
        "en": "The time to confirm has run out; nothing was done. Let us choose again.",
    },
    "changed": {
        "ru": "Хорошо, ничего не делаю. Что изменим?",
        "en": "All right, nothing was done. What shall we change?",
    },
    "cancel": {"ru": "Отменить запись: {summary}", "en": "Cancel the booking: {summary}"},
    "cancelled": {"ru": "Запись отменена. {summary}", "en": "The booking is cancelled. {summary}"},
    "reschedule": {"ru": "Перенести на {when}: {summary}", "en": "Move to {when}: {summary}"},
    "rescheduled": {"ru": "Запись перенесена. {summary}", "en": "The booking is moved. {summary}"},
    "client": {"ru": "Сохранить ваши данные: {name}, {phone}", "en": "Save your details: {name}, {phone}"},
    "client_saved": {"ru": "Спасибо, {name}! Данные сохранены.", "en": "Thank you, {name}! Your details are saved."},
    "failed": {"ru": "Не получилось: {detail}", "en": "That did not work: {detail}"},
}

_WEEKDAYS = {
    "ru": ("пн", "вт", "ср", "чт", "пт", "сб", "вс"),
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"),
}
_MONTHS = {
    "ru": (
        "января",
        "февраля",
        "марта",
        "апреля",
        "мая",
        "июня",
        "июля",
        "августа",
        "сентября",
        "октября",
        "ноября",
        "декабря",
    ),
    "en": ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"),
}


def say(key: str, language: str, **values: str) -> str:
    texts = PHRASES[key]
    return texts.get(language, texts["ru"]).format(**values)


def _lang(language: str) -> str:
    return "en" if language == "en" else "ru"


def day_label(day: date, language: str) -> str:
    """A short button label: «пт 11.12», "Fri 11.12"."""
    return f"{_WEEKDAYS[_lang(language)][day.weekday()]} {day:%d.%m}"


def day_name(day: date, language: str) -> str:
    lang = _lang(language)
    if lang == "en":
        return f"{_WEEKDAYS[lang][day.weekday()]} {day.day} {_MONTHS[lang][day.month - 1]}"
    return f"{_WEEKDAYS[lang][day.weekday()]}, {day.day} {_MONTHS[lang][day.month - 1]}"


def when_name(local: datetime, language: str) -> str:
    return f"{day_name(local.date(), language)}, {local:%H:%M}"
