"""The install lock (issue 11): constraints.txt pins every dependency ./run installs, inside the ranges of
pyproject.toml, and scripts/lock.py writes and checks it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parents[1]
LOCK = ROOT / "constraints.txt"
tomllib = pytest.importorskip("tomllib")


def _lock_module():
    spec = importlib.util.spec_from_file_location("lock", ROOT / "scripts" / "lock.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _requirements() -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]


def test_every_dependency_is_pinned_inside_its_range():
    lock = _lock_module()
    pins = lock.read_pins(LOCK)
    reqs = _requirements()
    assert len(reqs) > 20
    for req in reqs:
        name = lock.normalize(req.name)
        assert name in pins, f"{req.name} is not pinned in constraints.txt: run ./run lock"
        assert req.specifier.contains(pins[name], prereleases=True), \
            f"constraints.txt pins {req.name}=={pins[name]} outside pyproject's {req.specifier}"
    assert pins["torch"] == "2.13.0"  # the CPU wheel this machine kind holds; never the CUDA download
    assert "babelscope" not in pins


def test_write_drops_local_labels_and_editables(tmp_path):
    freeze = tmp_path / "freeze.txt"
    freeze.write_text("# Editable Git install\n-e /work/x\nJinja2==3.1.6\ntorch==2.13.0+cpu\nzarr==3.1.6\n")
    out = tmp_path / "lock.txt"
    _lock_module().write(freeze, out)
    lines = [l for l in out.read_text().splitlines() if not l.startswith("#")]
    assert lines == ["Jinja2==3.1.6", "torch==2.13.0", "zarr==3.1.6"]


def test_check_names_every_package_that_differs(tmp_path):
    np_version = metadata.version("numpy")
    good = tmp_path / "good.txt"
    good.write_text(f"numpy=={np_version}\n")
    bad = tmp_path / "bad.txt"
    bad.write_text(f"numpy==0.0.1\nno-such-package-xyz==1.0\nPyYAML=={metadata.version('pyyaml')}\n")
    run = lambda f: subprocess.run([sys.executable, str(ROOT / "scripts" / "lock.py"), "check", str(f)],
                                   capture_output=True, text=True)
    assert run(good).returncode == 0
    res = run(bad)
    assert res.returncode == 1
    assert f"numpy: locked 0.0.1, installed {np_version}" in res.stderr
    assert "no-such-package-xyz: locked 1.0, installed not installed" in res.stderr
    assert "pyyaml" not in res.stderr.split("differs")[1]  # a matching pin is not reported


def test_malformed_lock_line_is_named(tmp_path):
    f = tmp_path / "lock.txt"
    f.write_text("numpy==2.0\nscipy>=1.0\n")
    with pytest.raises(SystemExit, match=r"lock.txt:2: expected 'name==version'"):
        _lock_module().read_pins(f)
