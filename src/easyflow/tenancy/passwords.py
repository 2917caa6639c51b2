"""How strong a new password must be: at least MIN_LENGTH characters, and not guessable in fewer than about
10^8 tries by zxcvbn's estimate (its bundled lists of common passwords, words, names and keyboard patterns;
no network). zxcvbn knows English only, so Russian-speaking users' habits are added here: common Russian
password words, and the ЙЦУКЕН layout, on which "йцукенгшщз" is the "qwertyuiop" row and "gfhjkm" is
"пароль" typed with the wrong layout."""

from __future__ import annotations

from collections.abc import Iterable

from zxcvbn import zxcvbn

MIN_LENGTH = 10
# zxcvbn scores 0..4; 3 means about 10^8 to 10^10 guesses, out of reach of online guessing and costly offline
# against argon2 hashes.
MIN_SCORE = 3
# zxcvbn's own limit (its matching grows fast with length); a longer password is judged by its start.
_ESTIMATED_LENGTH = 72

_ALL_UPPERCASE = "All-uppercase is almost as easy to guess as all-lowercase."
_CYRILLIC_KEYS = "ёйцукенгшщзхъфывапролджэячсмитьбю"
_LATIN_KEYS = "`qwertyuiop[]asdfghjkl;'zxcvbnm,."
_TO_LATIN_LAYOUT = str.maketrans(_CYRILLIC_KEYS + _CYRILLIC_KEYS.upper(), _LATIN_KEYS + _LATIN_KEYS.upper())

# Words that top Russian-language password leaks, most common first (zxcvbn ranks them in this order).
_RUSSIAN_WORDS = (
    "пароль",
    "привет",
    "любовь",
    "солнце",
    "солнышко",
    "котик",
    "кошка",
    "зайка",
    "рыбка",
    "ангел",
    "мама",
    "папа",
    "наташа",
    "настя",
    "катя",
    "саша",
    "маша",
    "максим",
    "андрей",
    "сергей",
    "дима",
    "россия",
    "москва",
    "спартак",
    "зенит",
    "бишкек",
    "алматы",
    "кыргызстан",
    "казахстан",
    "админ",
    "администратор",
    "секрет",
    "вход",
    "открой",
    "компьютер",
    "лето",
    "весна",
    "зима",
    "осень",
    "пароль123",
)
_PASSWORD_WORDS = (*_RUSSIAN_WORDS, *(word.translate(_TO_LATIN_LAYOUT) for word in _RUSSIAN_WORDS), "easyflow")


def password_weakness(password: str, user_inputs: Iterable[str] = ()) -> str | None:
    """Why the password is too weak (zxcvbn's warning and suggestions), or None when it will do.
    `user_inputs` are things an attacker knows about the account (e-mail, name)."""
    if len(password) < MIN_LENGTH:
        return f"Use at least {MIN_LENGTH} characters."
    known = [*_PASSWORD_WORDS, *_parts(user_inputs)]
    candidate = password[:_ESTIMATED_LENGTH]
    # Also judged as typed on the Latin layout, so Cyrillic keyboard walks and layout-swapped words count.
    results = [zxcvbn(text, user_inputs=known) for text in dict.fromkeys([candidate, _latin_layout(candidate)])]
    weakest = min(results, key=lambda result: result["guesses"])
    if weakest["score"] >= MIN_SCORE:
        return None
    feedback = weakest["feedback"]
    # zxcvbn tells case by ASCII patterns, so to it every Cyrillic word looks all-uppercase.
    suggestions = [tip for tip in feedback["suggestions"] if tip != _ALL_UPPERCASE or candidate.isupper()]
    advice = " ".join(part for part in (feedback["warning"], *suggestions) if part)
    return f"This password is too easy to guess. {advice or 'Add another word or two. Uncommon words are better.'}"


def _latin_layout(text: str) -> str:
    return text.translate(_TO_LATIN_LAYOUT)


def _parts(user_inputs: Iterable[str]) -> list[str]:
    """The inputs and their pieces: "aigul.sadykova@shop.kg" also yields "aigul", "sadykova", "shop"."""
    parts: list[str] = []
    for value in user_inputs:
        lowered = value.lower()
        parts.append(lowered)
        parts.extend(piece for piece in lowered.replace("@", " ").replace(".", " ").replace("-", " ").split() if piece)
    return parts
