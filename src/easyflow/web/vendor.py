"""The dashboard's front-end libraries: pinned npm versions, copied into the repository with their licences, so
that nothing is fetched from a CDN or a registry at run time and a fresh checkout needs no npm.

`PINNED` names each package's version and the files taken from it. `python -m easyflow.web.vendor` (a
maintainer's command, run from a checkout with `npm` on the PATH) downloads each pinned tarball with
`npm pack`, copies those files and the licence, and rewrites `vendor.json`: what was copied, from which
version, with each file's SHA-256. `make test` checks the copies against that record (tests/web), so a file
edited by hand, a version bumped in one place only or a missing licence fails the suite. To upgrade, change a
version here and run the command.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from easyflow.web import PROJECT_ROOT

STATIC = Path(__file__).resolve().parent / "static" / "vendor"
RECORD = Path(__file__).resolve().parent / "vendor.json"


@dataclass(frozen=True)
class Pinned:
    package: str
    version: str
    # File in the npm tarball (under `package/`) -> its name in `into`.
    files: dict[str, str]
    into: Path
    # The tarball's licence file; None when the package ships none (`licence_holder` then names the
    # copyright holder for the licence text written from the package.json `license` field).
    licence: str | None = "LICENSE"
    licence_holder: str | None = field(default=None)


PINNED = (
    Pinned("htmx.org", "2.0.11", {"dist/htmx.min.js": "htmx.min.js"}, STATIC / "htmx"),
    Pinned(
        "alpinejs",
        "3.17.5",
        {"dist/cdn.min.js": "alpine.min.js"},
        STATIC / "alpine",
        licence=None,
        licence_holder="Caleb Porzio and contributors",
    ),
    # The deals board: dragging a card to another stage's column.
    Pinned("sortablejs", "1.15.7", {"Sortable.min.js": "sortable.min.js"}, STATIC / "sortable"),
    # Only the browser tests load it: it checks every page for accessibility violations.
    Pinned("axe-core", "4.14.1", {"axe.min.js": "axe.min.js"}, PROJECT_ROOT / "tests" / "vendor" / "axe-core"),
)

LICENCE_FILE = "LICENSE"

_MIT = """MIT License

Copyright (c) {holder}

Permission is hereby granted, free of charge, to any person obtaining a copy of this software and associated
documentation files (the "Software"), to deal in the Software without restriction, including without limitation
the rights to use, copy, modify, merge, publish, distribute, sublicense, and/or sell copies of the Software, and
to permit persons to whom the Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or substantial portions of
the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING BUT NOT LIMITED TO
THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF
CONTRACT, TORT OR OTHERWISE, ARISING FROM, OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS
IN THE SOFTWARE.
"""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def recorded_path(path: Path) -> str:
    """A copied file's path as the record names it: relative to the project, the same on every machine."""
    return path.relative_to(PROJECT_ROOT).as_posix()


def refresh(pinned: tuple[Pinned, ...] = PINNED) -> dict[str, dict[str, object]]:
    """Download every pinned package, copy its files and licence, and write the record."""
    record: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="easyflow-vendor-") as work:
        for pin in pinned:
            unpacked = _unpack(pin, Path(work))
            if pin.into.exists():
                shutil.rmtree(pin.into)
            pin.into.mkdir(parents=True)
            for source, name in pin.files.items():
                shutil.copyfile(unpacked / source, pin.into / name)
            licence = pin.into / LICENCE_FILE
            if pin.licence is not None:
                shutil.copyfile(unpacked / pin.licence, licence)
            else:
                declared = json.loads((unpacked / "package.json").read_text())["license"]
                if declared != "MIT":
                    raise SystemExit(f"{pin.package}: ships no licence file and is {declared}, not MIT: add its text")
                licence.write_text(_MIT.format(holder=pin.licence_holder))
            copied = [pin.into / name for name in pin.files.values()] + [licence]
            record[pin.package] = {
                "version": pin.version,
                "files": {recorded_path(path): sha256(path) for path in copied},
            }
    RECORD.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    return record


def _unpack(pin: Pinned, work: Path) -> Path:
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("npm is not on the PATH: it downloads the pinned packages")
    packed = subprocess.run(  # noqa: S603  (our own pins, no shell)
        [npm, "pack", "--silent", "--pack-destination", str(work), f"{pin.package}@{pin.version}"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()[-1]
    target = work / pin.package
    with tarfile.open(work / packed) as tarball:
        tarball.extractall(target, filter="data")
    return target / "package"


def main() -> int:
    for package, entry in refresh().items():
        print(f"{package} {entry['version']}: {', '.join(entry['files'])}")  # type: ignore[arg-type]
    print(f"recorded in {recorded_path(RECORD)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
