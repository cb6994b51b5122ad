"""The GNN pipeline's step-4 API: a drop-in for ``model_registry`` of the seed.

A pipeline switches by changing one import::

    from registry.api import ModelRegistry, process_model_registry

:func:`process_model_registry` runs the same reconcile as ``gnn-registryd --scan`` and returns
the seed's keys (``processed_files``, ``successful_registrations``, ``registry_path``,
``total_models``) plus ``invalid_files``, ``skipped_files``, ``error_files``, ``exit_code``,
``success`` and the rest of the scan summary (see :meth:`registry.scan.ScanReport.to_summary`).

:class:`ModelRegistry` keeps the seed's methods on top of the durable store:

- every change (``register_model``, ``delete_model``) is its own locked transaction and is on
  disk when the method returns, so ``save()`` has nothing left to do: it only makes sure the
  registry file exists (writing an empty registry if nothing was registered yet);
- reads (``get_model``, ``list_models``, ``search_models``) use the document as of the last
  change or ``load()``, so call ``load()`` to see changes made by other processes;
- entries are :class:`registry.records.ModelEntry` values, which expose the seed's attribute
  names (``model_id``, ``name``, ``current_version``, ``versions``, ``tags``, ``metadata``,
  ``description``); deleted models are hidden (their ids stay reserved);
- ``search_models`` uses :func:`registry.query.search`: words are matched case-insensitively
  in id, name, description and tags, all words must match (the seed matched the whole query
  as one substring; every seed match is still found), and field filters such as ``tag:x``
  work too. A malformed filter (``state:nonsense``) finds nothing instead of raising.

Decisions: options are config settings (``registry_path``, ``auto_version``, ``strict``,
``extract_metadata``...; unknown names raise :class:`~registry.errors.ConfigError`). The
environment (``GNN_REGISTRY_*``) is not read by this API: a library call is configured by its
arguments only. ``recursive`` is accepted for compatibility; scans are always recursive
(``recursive=False`` is refused with a ConfigError rather than silently ignored). ``verbose``
and ``logger`` are accepted and ignored (logging is configured by the application).
``registry_path`` may name the registry file or a directory (the file is then
``<dir>/model_registry.json``); metadata files and backups go beside the registry file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from registry.config import REGISTRY_FILENAME, Config, load_config
from registry.errors import ConfigError, NotFoundError
from registry.lifecycle import delete_model as _delete_model
from registry.query import search
from registry.records import ModelEntry, RegistryDoc, utc_now
from registry.scan import Scanner
from registry.store import RegistryStore

_IGNORED = ("verbose", "logger")
_REGISTERED = ("registered", "updated", "unchanged", "restored", "renamed")


def _registry_file(registry_path: str | Path) -> Path:
    path = Path(registry_path).expanduser()
    return path / REGISTRY_FILENAME if path.is_dir() else path


def _config(options: dict[str, Any]) -> Config:
    opts = {k: v for k, v in options.items() if k not in _IGNORED}
    recursive = opts.pop("recursive", True)
    if recursive is False:
        msg = "recursive=False is not supported: scans always include sub-directories"
        raise ConfigError(msg)
    return load_config(environ={}, overrides=opts)


class ModelRegistry:
    """A GNN model registry backed by one durable JSON file.

    Args:
        registry_path: the registry file (or a directory to hold ``model_registry.json``).
        options: config settings (``auto_version``, ``strict``, ``actor``...).

    Raises:
        ConfigError: an unknown option or an invalid value.
        StoreError: the registry exists but cannot be read (corrupt with no valid backup).
    """

    def __init__(self, registry_path: str | Path, **options: Any) -> None:
        file = _registry_file(registry_path)
        self.config = _config({**options, "registry_path": file, "output_dir": file.parent})
        self.registry_path = file
        self.store = RegistryStore(self.config)
        self._scanner = Scanner(self.config, self.store)
        self._doc = RegistryDoc()
        self.load()

    def load(self) -> None:
        """Read the registry from disk (changes by other processes become visible)."""
        self._doc = self.store.load()

    def save(self) -> None:
        """Make sure the registry is on disk.

        Changes are written when they are made, so this only creates the registry file
        when nothing has been written yet (an empty registry).
        """
        if self.registry_path.exists():
            return
        with self.store.transaction(actor=self.config.actor) as doc:
            if not self.registry_path.exists():
                # The store writes only a changed document: touch it so the file appears.
                doc.updated_at = utc_now()
        self.load()

    def register_model(self, model_path: str | Path) -> bool:
        """Register (or update) the model file ``model_path``.

        Args:
            model_path: a GNN file (any extension).

        Returns:
            True when the file's models are registered and current afterwards; False when the
            file is invalid, not a GNN model, or cannot be read.

        Raises:
            StoreError: the registry cannot be written.
        """
        outcome = self._scanner.register_file(model_path)
        self.load()
        return outcome.status in _REGISTERED

    def get_model(self, model_id: str) -> ModelEntry | None:
        """The model ``model_id`` (``None`` when unknown or deleted)."""
        entry = self._doc.models.get(model_id)
        return None if entry is None or entry.deleted else entry

    def search_models(self, query: str) -> list[ModelEntry]:
        """Models whose id, name, description or tags match ``query`` (case-insensitive)."""
        try:
            return search(self._doc, query)
        except NotFoundError:
            return []

    def list_models(self) -> list[ModelEntry]:
        """Every model not deleted, sorted by id."""
        return [self._doc.models[mid] for mid in sorted(self._doc.models)
                if not self._doc.models[mid].deleted]

    def delete_model(self, model_id: str) -> bool:
        """Delete ``model_id`` (a tombstone: its id and version numbers stay reserved).

        Returns:
            True when the model existed and is now deleted.

        Raises:
            StoreError: the registry cannot be written.
        """
        try:
            with self.store.transaction(actor=self.config.actor) as doc:
                _delete_model(doc, model_id, actor=self.config.actor)
        except NotFoundError:
            return False
        finally:
            self.load()
        return True

    @property
    def models(self) -> dict[str, ModelEntry]:
        """The seed's ``models`` mapping (deleted models left out)."""
        return {mid: e for mid, e in self._doc.models.items() if not e.deleted}


def process_model_registry(target_dir: str | Path, output_dir: str | Path,
                           logger: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Scan ``target_dir`` into the registry under ``output_dir`` (pipeline step 4).

    Args:
        target_dir: the directory of GNN files (scanned recursively).
        output_dir: where ``model_registry.json`` and per-model metadata go.
        logger: accepted for compatibility with the pipeline template; not used.
        kwargs: config settings (``registry_path``, ``auto_version``, ``strict``...), plus
            ``recursive`` and ``verbose`` (see the module docstring).

    Returns:
        The scan summary: ``processed_files``, ``successful_registrations``,
        ``registry_path``, ``total_models``, ``invalid_files``, ``skipped_files``,
        ``exit_code``, ``success`` and more.

    Raises:
        ConfigError: an unknown setting or invalid value.
        StoreError: the registry cannot be read or written.
    """
    del logger
    options = dict(kwargs)
    options.setdefault("output_dir", Path(output_dir))
    if options.get("registry_path") is not None:
        options["registry_path"] = _registry_file(options["registry_path"])
    config = _config(options)
    report = Scanner(config).reconcile([Path(target_dir)])
    return report.to_summary()


__all__ = ["ModelRegistry", "process_model_registry"]
