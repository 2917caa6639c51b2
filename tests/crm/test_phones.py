"""One form for a phone number however a customer or an export writes it."""

from __future__ import annotations

import pytest

from easyflow.crm.phones import normalize_phone


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("8 (912) 345-67-89", "+79123456789"),
        ("+7 912 345 67 89", "+79123456789"),
        ("+996 555 123 456", "+996555123456"),
        ("+7 701 234 5678", "+77012345678"),
        ("‪+996 700 111 222‬", "+996700111222"),  # WhatsApp wraps numbers in direction marks
        ("+1 (415) 555-2671", "+14155552671"),
    ],
)
def test_numbers_written_differently_come_out_the_same(raw: str, expected: str) -> None:
    assert normalize_phone(raw) == expected


@pytest.mark.parametrize("raw", ["", "Анна", "12", "+7" + "9" * 60, "\x00"])
def test_what_is_not_a_phone_number_is_none(raw: str) -> None:
    assert normalize_phone(raw) is None
