"""The install lock (constraints.txt): write it from a `pip freeze`, or check an environment against it.

    python scripts/lock.py write FREEZE.txt constraints.txt   # used by ./run lock
    python scripts/lock.py check constraints.txt               # used by ./run after installing

`check` exits 1 naming every pinned package whose installed version differs from the lock (or that
is not installed). A local version label (torch's "+cpu") is not part of the pin: the same release
is pinned for the CPU and the CUDA build.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

HEADER = """\
# Versions the test suite last ran green with: ./run installs exactly these (pip -c constraints.txt).
# Refresh: ./run lock (newest versions pyproject.toml allows, resolved in a scratch venv), then
# ./run test, and commit this file if the suite passes. pyproject.toml keeps ranges for users who
# install babelscope into their own environment. Resolved for CPython {python} on Linux.
"""

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;#]+)")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def read_pins(path: Path) -> dict[str, str]:
    """``{normalized name: version}`` of every ``name==version`` line (a local label dropped)."""
    pins: dict[str, str] = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith(("#", "-e ", "--")):
            continue
        m = _PIN.match(line)
        if m is None:
            raise SystemExit(f"{path}:{n}: expected 'name==version', got {line!r}")
        pins[normalize(m.group(1))] = m.group(2).split("+")[0]
    return pins


def write(freeze: Path, lock: Path) -> None:
    pins = read_pins(freeze)
    names = {normalize(m.group(1)): m.group(1) for m in map(_PIN.match, freeze.read_text().splitlines()) if m}
    body = "".join(f"{names[k]}=={pins[k]}\n" for k in sorted(pins))
    lock.write_text(HEADER.format(python=".".join(map(str, sys.version_info[:2]))) + body)
    print(f"{lock}: {len(pins)} packages pinned")


def check(lock: Path) -> int:
    bad = []
    pins = read_pins(lock)
    for name, want in sorted(pins.items()):
        try:
            got = metadata.version(name).split("+")[0]
        except metadata.PackageNotFoundError:
            got = "not installed"
        if got != want:
            bad.append(f"{name}: locked {want}, installed {got}")
    if bad:
        print(f"{lock}: the environment differs from the lock in {len(bad)} package(s):", file=sys.stderr)
        for b in bad:
            print(f"  {b}", file=sys.stderr)
        return 1
    print(f"{lock}: all {len(pins)} pinned packages installed at the locked versions", file=sys.stderr)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "write":
        write(Path(argv[1]), Path(argv[2]))
        return 0
    if len(argv) == 2 and argv[0] == "check":
        return check(Path(argv[1]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
