"""Phone numbers in one form (E.164, "+996555123456"), so the same customer written "8 (912) 345-67-89" in one
chat and "+7 912 345 67 89" in another is found as one person."""

from __future__ import annotations

import phonenumbers

# A number written without its country code is read as Russian: the market easyflow is born in. Numbers from
# Kyrgyzstan and Kazakhstan in chat exports carry their code (+996, +7), which overrides this.
DEFAULT_REGION = "RU"
MAX_PHONE_CHARS = 40


def normalize_phone(raw: str, *, region: str = DEFAULT_REGION) -> str | None:
    """The number in E.164, or None when `raw` is not a possible phone number (a name, a short code)."""
    if not raw or len(raw) > MAX_PHONE_CHARS:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
