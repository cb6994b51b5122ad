"""Settings for scans, the service and the library, from defaults, TOML, environment and flags.

Precedence, lowest first: built-in defaults, the TOML file (``--config FILE`` or
``GNN_REGISTRY_CONFIG``), ``GNN_REGISTRY_<NAME>`` environment variables, then explicit
overrides (command-line flags or ``process_model_registry(**kwargs)``). The TOML file may put
keys at top level or under a ``[gnn_registry]`` table. Unknown keys are refused, so a typo
never silently does nothing.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from registry.errors import ConfigError

DEFAULT_OUTPUT_DIR = Path("output/4_model_registry_output")
REGISTRY_FILENAME = "model_registry.json"
ENV_PREFIX = "GNN_REGISTRY_"
LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("auto", "json", "console")


@dataclass(frozen=True, slots=True)
class Config:
    """Every setting, with its default. See the README's configuration reference."""

    directories: tuple[Path, ...] = ()
    output_dir: Path = DEFAULT_OUTPUT_DIR
    registry_path: Path | None = None
    registry_backup: bool = True
    backup_count: int = 10
    registry_format: str = "json"
    auto_version: bool = True
    extract_metadata: bool = True
    validate_before_register: bool = True
    strict: bool = False
    max_registry_size: float = 100.0
    cleanup_old_versions: bool = False
    registry_lock: bool = True
    lock_timeout: float = 30.0
    max_file_size: int = 16 * 1024 * 1024
    max_variables: int = 100_000  # fileanalysis.DEFAULT_MAX_VARIABLES
    settle_timeout: float = 10.0
    analysis_workers: int = 0
    follow_symlinks: bool = False
    patterns: tuple[str, ...] = ("*.md", "*.markdown", "*.gnn")
    ignore_patterns: tuple[str, ...] = ()
    write_model_metadata: bool = True
    settle_ms: int = 300
    reconcile_interval: float = 600.0
    queue_size: int = 65536
    force_polling: bool = False
    poll_interval: float = 1.0
    log_level: str = "info"
    log_format: str = "auto"
    actor: str = field(default_factory=lambda: os.environ.get("USER", "gnn-registry"))

    def __post_init__(self) -> None:
        if self.registry_format != "json":
            msg = (f"registry_format {self.registry_format!r} is not supported: "
                   "the only registry format is 'json'")
            raise ConfigError(msg)
        if self.log_level.lower() not in LOG_LEVELS:
            msg = f"log_level must be one of {', '.join(LOG_LEVELS)}, not {self.log_level!r}"
            raise ConfigError(msg)
        if self.log_format not in LOG_FORMATS:
            msg = f"log_format must be one of {', '.join(LOG_FORMATS)}, not {self.log_format!r}"
            raise ConfigError(msg)
        for name in ("backup_count", "settle_ms", "queue_size", "max_file_size",
                     "max_variables", "settle_timeout"):
            if getattr(self, name) < 0:
                msg = f"{name} must not be negative"
                raise ConfigError(msg)
        for name in ("max_registry_size", "lock_timeout", "reconcile_interval", "poll_interval"):
            if getattr(self, name) <= 0:
                msg = f"{name} must be greater than zero"
                raise ConfigError(msg)

    @property
    def registry_file(self) -> Path:
        """The registry JSON path: ``registry_path`` or ``OUTPUT_DIR/model_registry.json``."""
        return self.registry_path if self.registry_path is not None else (
            self.output_dir / REGISTRY_FILENAME)

    @property
    def registry_dir(self) -> Path:
        """The directory holding the registry, its lock, backups and per-model folders."""
        return self.registry_file.parent

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied (values coerced like any other source)."""
        return load_config(base=self, overrides=changes)


_FIELDS = {f.name: f for f in fields(Config)}
_ALIASES = {"registry": "registry_path", "dirs": "directories"}


def _coerce(name: str, value: Any) -> Any:
    """Turn a TOML/env/flag value into the field's type, or raise ConfigError naming it."""
    default = _FIELDS[name].default
    if dataclasses.MISSING is not default and default is not None:
        kind: type = type(default)
    elif name == "registry_path":
        kind = Path
    else:
        kind = str
    try:
        if name in ("directories", "patterns", "ignore_patterns"):
            items = value.split(os.pathsep if name == "directories" else ",") if isinstance(
                value, str) else list(value)
            items = [i.strip() if isinstance(i, str) else i for i in items]
            items = [i for i in items if i != ""]
            return tuple(Path(i) for i in items) if name == "directories" else tuple(
                str(i) for i in items)
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(text)
        if issubclass(kind, Path):
            return Path(str(value)).expanduser()
        if kind is int:
            return int(value)
        if kind is float:
            return float(value)
        return str(value)
    except (TypeError, ValueError) as exc:
        msg = f"invalid value {value!r} for setting {name!r}"
        raise ConfigError(msg) from exc


def _normalise(source: str, raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in raw.items():
        name = _ALIASES.get(key.replace("-", "_"), key.replace("-", "_"))
        if name not in _FIELDS:
            msg = f"unknown setting {key!r} in {source}"
            raise ConfigError(msg)
        if value is None:
            continue
        out[name] = _coerce(name, value)
    return out


def read_toml(path: Path) -> dict[str, Any]:
    """Settings from a TOML file (top level or a ``[gnn_registry]`` table)."""
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except OSError as exc:
        msg = f"cannot read config file {path}: {exc.strerror or exc}"
        raise ConfigError(msg) from exc
    except tomllib.TOMLDecodeError as exc:
        msg = f"config file {path} is not valid TOML: {exc}"
        raise ConfigError(msg) from exc
    table = data.get("gnn_registry", data)
    if not isinstance(table, dict):
        msg = f"config file {path}: [gnn_registry] must be a table"
        raise ConfigError(msg)
    return _normalise(f"config file {path}", table)


def read_env(environ: Mapping[str, str]) -> dict[str, Any]:
    """Settings from ``GNN_REGISTRY_<NAME>`` variables (``_CONFIG`` and ``_FAILPOINT`` excluded).

    ``GNN_REGISTRY_FAILPOINT`` is read by :mod:`registry.storage.failpoints` (crash tests), not
    here.
    """
    raw = {k[len(ENV_PREFIX):].lower(): v for k, v in environ.items()
           if k.startswith(ENV_PREFIX) and k not in (ENV_PREFIX + "CONFIG",
                                                     ENV_PREFIX + "FAILPOINT")}
    return _normalise("the environment", raw)


def load_config(
    config_file: Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    base: Config | None = None,
) -> Config:
    """Build a :class:`Config` from defaults, a TOML file, the environment and overrides.

    Args:
        config_file: a TOML file; when ``None``, ``GNN_REGISTRY_CONFIG`` names one if set.
        environ: the environment to read (``os.environ`` by default; pass ``{}`` to ignore it).
        overrides: explicit values (flags, keyword arguments); ``None`` values are ignored.
        base: start from this config instead of the defaults (used by :meth:`Config.replace`;
            the file and environment are then not read unless given).

    Raises:
        ConfigError: an unreadable file, an unknown key or an invalid value.
    """
    values: dict[str, Any] = {}
    if base is None:
        env = os.environ if environ is None else environ
        path = config_file or (Path(env[ENV_PREFIX + "CONFIG"])
                               if env.get(ENV_PREFIX + "CONFIG") else None)
        if path is not None:
            values.update(read_toml(path))
        values.update(read_env(env))
    else:
        values = {f: getattr(base, f) for f in _FIELDS}
        if config_file is not None:
            values.update(read_toml(config_file))
        if environ is not None:
            values.update(read_env(environ))
    if overrides:
        values.update(_normalise("the given options", overrides))
    return Config(**values)


__all__ = ["DEFAULT_OUTPUT_DIR", "ENV_PREFIX", "REGISTRY_FILENAME", "Config", "load_config"]
