"""The front-end libraries are exactly the pinned npm versions, unedited, each with its licence
(easyflow/web/vendor.py; refreshed with `python -m easyflow.web.vendor`)."""

from __future__ import annotations

import json

import pytest

from easyflow.web import PROJECT_ROOT
from easyflow.web.vendor import LICENCE_FILE, PINNED, RECORD, Pinned, recorded_path, sha256

RECORDED = json.loads(RECORD.read_text())


def test_the_record_names_every_pinned_package_at_its_pinned_version() -> None:
    assert {package: entry["version"] for package, entry in RECORDED.items()} == {
        pin.package: pin.version for pin in PINNED
    }


@pytest.mark.parametrize("pin", PINNED, ids=lambda pin: pin.package)
def test_each_copied_file_is_the_one_recorded_and_nothing_else_is_there(pin: Pinned) -> None:
    recorded = RECORDED[pin.package]["files"]
    present = {recorded_path(path) for path in pin.into.iterdir()}
    assert present == set(recorded), "a file there was not copied by the refresh, or a copied one is missing"
    for path, digest in recorded.items():
        assert sha256(PROJECT_ROOT / path) == digest, f"{path} differs from the copy of {pin.package} {pin.version}"
    assert recorded_path(pin.into / LICENCE_FILE) in recorded


@pytest.mark.parametrize("pin", PINNED, ids=lambda pin: pin.package)
def test_each_library_is_the_version_it_is_pinned_at(pin: Pinned) -> None:
    """The minified files announce their own version: a copy from another release fails here even if its
    record was rewritten by hand."""
    [script] = [pin.into / name for name in pin.files.values()]
    assert f'"{pin.version}"' in script.read_text(encoding="utf-8")
