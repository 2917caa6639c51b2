"""What an earlier migration wrote, for a later one that replaces it to write back on the way down."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

_VERSIONS = Path(__file__).with_name("migrations") / "versions"


def earlier_migration(revision: str) -> ModuleType:
    """The migration module of `revision` (its file is named after it), loaded on its own."""
    spec = importlib.util.spec_from_file_location(f"easyflow_migration_{revision}", _VERSIONS / f"{revision}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
