"""Run configurations: TOML files validated into :class:`RunConfig` (errors name the key)."""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from babelscope.config.schema import InterventionCfg, RunConfig
from babelscope.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

__all__ = ["RunConfig", "InterventionCfg", "load_config", "parse_config", "config_digest", "demo_config"]


def _where(loc: tuple) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def parse_config(data: dict[str, Any], source: str = "config") -> RunConfig:
    try:
        cfg = RunConfig.model_validate(data)
        cfg._source = source  # later checks (babelscope.pipeline.checks) name the file too
        return cfg
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            msg = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
            problems.append(f"{_where(tuple(err['loc']))}: {msg}")
        raise ConfigError(f"{source}: " + "; ".join(problems)) from None


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a TOML run configuration."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return parse_config(data, str(path))


def config_digest(cfg: RunConfig, *parts: str) -> str:
    """Hash of the config tables a stage depends on (stages rerun only when these change)."""
    d = cfg.model_dump(mode="json")
    sel = {p: d[p] for p in parts} if parts else d
    return hashlib.sha256(json.dumps(sel, sort_keys=True).encode()).hexdigest()[:16]


def demo_config() -> RunConfig:
    """The configuration of ``babelscope demo`` (shipped as ``babelscope/config/demo.toml``)."""
    from importlib import resources

    text = resources.files("babelscope.config").joinpath("demo.toml").read_text("utf-8")
    return parse_config(tomllib.loads(text), "demo.toml")
