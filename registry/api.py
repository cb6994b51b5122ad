"""The GNN pipeline's step-4 API: a drop-in for the upstream module ``model_registry``.

A pipeline switches by changing one import::

    from registry import ModelRegistry, process_model_registry

:func:`process_model_registry` runs the same reconcile as ``gnn-registryd --scan`` and returns
the upstream keys (``processed_files``, ``successful_registrations``, ``registry_path``,
``total_models``, ``matching_models``, ``success``) plus ``invalid_files``, ``skipped_files``,
``error_files``, ``exit_code`` and the rest of the scan summary (see
:meth:`registry.scanning.scan.ScanReport.to_summary`).

Keyword arguments (both functions): the pipeline's own (``verbose``, ``recursive``,
``logger``, ``registry_path``, ``query_ontology``) are understood; config settings
(``auto_version``, ``strict``, ``actor``...) configure the run; any other keyword is ignored
with a logged warning (through ``logger`` when one is given), so a pipeline that passes a new
option does not fail. An invalid *value* of a known setting still raises
:class:`~registry.errors.ConfigError`, and so does a misspelt setting in a TOML config file.
The environment (``GNN_REGISTRY_*``) is not read by this API: a library call is configured by
its arguments only.

- ``recursive=False`` registers only the files directly in ``target_dir``; a model of that
  folder whose file is gone is marked ``removed``; sub-folders' models are left alone.
- ``query_ontology="term"``: ``matching_models`` lists the ids (sorted) of the live models
  whose record mentions the term, case-insensitively: id, name, description, tags, aliases
  and the current version's metadata (ontology annotations, variable names, sections...).
  History, hashes and file paths are not searched. Without a term every live model matches.
- ``verbose`` and ``logger`` change nothing else: this library logs through stdlib
  ``logging`` (logger ``registry``), silent unless the application configures logging.
- ``registry_path`` may name the registry file or a directory (the file is then
  ``<dir>/model_registry.json``); metadata files and backups go beside the registry file.

:class:`ModelRegistry` keeps the upstream methods on top of the durable store: every change
is its own locked transaction, on disk when the method returns (``save()`` only makes sure
the registry file exists); reads use the document as of the last change or ``load()``.
Entries are :class:`registry.api_entries.ModelEntry` views (see that module for their
methods). Deleted models are hidden (their ids stay reserved). ``search_models`` uses
:func:`registry.model.query.search` (words case-insensitive in id, name, description and tags, all
must match; field filters such as ``tag:x`` work too; a malformed filter finds nothing).

Opening a registry goes through :class:`~registry.storage.store.RegistryStore`, which imports a
registry file in an older layout (this project's schema 1, or the upstream step 4's
``model_registry.json``) on first use.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any

import structlog

from registry.api_entries import REGISTERED, ModelEntry
from registry.config import REGISTRY_FILENAME, Config, load_config
from registry.errors import NotFoundError
from registry.model.lifecycle import delete_model as _delete_model
from registry.model.query import search
from registry.model.records import ModelEntry as EntryRecord
from registry.model.records import RegistryDoc, utc_now
from registry.scanning.names import absolute
from registry.scanning.scan import Scanner
from registry.scanning.scanio import FileOutcome
from registry.storage.store import RegistryStore

log = structlog.get_logger(__name__)

PIPELINE_KEYWORDS = ("verbose", "recursive", "logger", "registry_path", "query_ontology")
"""The keywords the GNN pipeline passes to step 4 (understood, never an error)."""

_SETTINGS = frozenset(f.name for f in fields(Config)) | {"registry", "dirs"}


def _registry_file(registry_path: str | Path) -> Path:
    path = Path(registry_path).expanduser()
    return path / REGISTRY_FILENAME if path.is_dir() else path


def _settings(options: Mapping[str, Any], logger: Any, caller: str) -> dict[str, Any]:
    """Config overrides from keyword ``options``; unknown keywords warned about and dropped."""
    out: dict[str, Any] = {}
    for key, value in options.items():
        if key in PIPELINE_KEYWORDS and key != "registry_path":
            continue
        if key.replace("-", "_") not in _SETTINGS:
            _warn(logger, f"{caller}: ignoring unknown option {key!r} (not a gnn-registry "
                          "setting)", option=key)
            continue
        out[key] = value
    return out


def _warn(logger: Any, message: str, **fields_: Any) -> None:
    """Warn through the caller's stdlib logger when given, else through this module's."""
    if isinstance(logger, logging.Logger | logging.LoggerAdapter):
        logger.warning(message)
    else:
        log.warning("unknown_option_ignored", message=message, **fields_)


def _mentions(entry: EntryRecord, needle: str) -> bool:
    current = entry.current
    text = json.dumps([entry.model_id, entry.model_name, entry.description, entry.tags,
                       entry.aliases, entry.metadata, current.metadata if current else {}],
                      ensure_ascii=False, default=str)
    return needle in text.lower()


def matching_models(doc: RegistryDoc, term: str | None) -> list[str]:
    """Ids of live models whose record mentions ``term`` (all live models when ``None``).

    Args:
        doc: the registry document.
        term: the ontology term (matched case-insensitively); ``None`` or blank for all.

    Returns:
        The ids, sorted.
    """
    needle = (term or "").strip().lower()
    return sorted(mid for mid, entry in doc.models.items()
                  if not entry.deleted and (not needle or _mentions(entry, needle)))


class ModelRegistry:
    """A GNN model registry backed by the durable store.

    Args:
        registry_path: the registry file (or a directory to hold ``model_registry.json``).
        options: config settings (``auto_version``, ``strict``, ``actor``...) and the
            pipeline's keywords; unknown keywords are ignored with a warning.

    Raises:
        ConfigError: an invalid value of a setting.
        StoreError: the registry exists but cannot be read (corrupt with no valid backup).
    """

    def __init__(self, registry_path: str | Path, **options: Any) -> None:
        file = _registry_file(registry_path)
        settings = _settings(options, options.get("logger"), "ModelRegistry")
        settings.update(registry_path=file, output_dir=file.parent)
        self.config: Config = load_config(environ={}, overrides=settings)
        self.registry_path = file
        self.store = RegistryStore(self.config)
        self._scanner = Scanner(self.config, self.store)
        self._doc = RegistryDoc()
        self.load()

    # -- plumbing for the entry views ------------------------------------------------------

    def record(self, model_id: str) -> EntryRecord | None:
        """The stored record of ``model_id`` in the current document (``None`` if unknown)."""
        return self._doc.models.get(model_id)

    def change(self, model_id: str, apply: Callable[[EntryRecord], object]) -> None:
        """Run ``apply`` on the model's record in one store transaction, then reload.

        Raises:
            NotFoundError: no such model.
            TransitionError: ``apply`` refused the change (nothing is written).
            StoreError: the registry cannot be written.
        """
        try:
            with self.store.transaction(actor=self.config.actor) as doc:
                entry = doc.models.get(model_id)
                if entry is None:
                    msg = f"no model {model_id!r} in the registry"
                    raise NotFoundError(msg)
                apply(entry)
        finally:
            self.load()

    def register_outcome(self, model_path: str | Path) -> FileOutcome:
        """Register ``model_path`` through the normal registration path; its outcome."""
        try:
            return self._scanner.register_file(model_path)
        finally:
            self.load()

    # -- the upstream methods --------------------------------------------------------------

    def load(self) -> None:
        """Read the registry from the store (changes by other processes become visible)."""
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

        Returns:
            True when the file's models are registered and current afterwards; False when the
            file is invalid, not a GNN model, or cannot be read.

        Raises:
            StoreError: the registry cannot be written.
        """
        return self.register_outcome(model_path).status in REGISTERED

    def get_model(self, model_id: str) -> ModelEntry | None:
        """The model ``model_id`` (``None`` when unknown or deleted)."""
        entry = self._doc.models.get(model_id)
        return None if entry is None or entry.deleted else ModelEntry(self, model_id)

    def search_models(self, query: str) -> list[ModelEntry]:
        """Models whose id, name, description or tags match ``query`` (case-insensitive)."""
        try:
            return [ModelEntry(self, e.model_id) for e in search(self._doc, query)]
        except NotFoundError:
            return []

    def list_models(self) -> list[ModelEntry]:
        """Every model not deleted, sorted by id."""
        return [ModelEntry(self, mid) for mid in sorted(self._doc.models)
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
        """The upstream ``models`` mapping: id -> entry view (deleted models left out)."""
        return {mid: ModelEntry(self, mid) for mid in sorted(self._doc.models)
                if not self._doc.models[mid].deleted}

    def matching_models(self, term: str | None) -> list[str]:
        """Ids of the models whose record mentions ``term`` (see the module docstring)."""
        return matching_models(self._doc, term)


def _flat_paths(target: Path, doc: RegistryDoc) -> list[str]:
    """The files directly in ``target``, plus the vanished files of its models."""
    top = absolute(target)
    paths = [absolute(p) for p in sorted(target.iterdir()) if not p.is_dir()]
    for entry in doc.models.values():
        file = Path(entry.file_path)
        if not entry.deleted and absolute(file.parent) == top and not file.exists():
            paths.append(entry.file_path)
    return list(dict.fromkeys(paths))


def process_model_registry(target_dir: str | Path, output_dir: str | Path,
                           logger: Any = None, **kwargs: Any) -> dict[str, Any]:
    """Scan ``target_dir`` into the registry under ``output_dir`` (pipeline step 4).

    Args:
        target_dir: the directory of GNN files.
        output_dir: where ``model_registry.json`` and per-model metadata go.
        logger: the pipeline's logger; warnings about ignored options go to it.
        kwargs: ``recursive`` (default True), ``query_ontology``, ``registry_path``,
            ``verbose``, config settings; unknown keywords are ignored with a warning.

    Returns:
        The scan summary: ``success``, ``processed_files``, ``successful_registrations``,
        ``registry_path``, ``total_models``, ``matching_models``, ``invalid_files``,
        ``skipped_files``, ``exit_code`` and more.

    Raises:
        ConfigError: an invalid value of a setting.
        StoreError: the registry cannot be read or written.
    """
    options = _settings(kwargs, logger, "process_model_registry")
    options.setdefault("output_dir", Path(output_dir))
    if options.get("registry_path") is not None:
        options["registry_path"] = _registry_file(options["registry_path"])
    target = Path(target_dir)
    recursive = kwargs.get("recursive") is None or bool(kwargs["recursive"])
    if not recursive:
        options["directories"] = (target,)
    config = load_config(environ={}, overrides=options)
    scanner = Scanner(config)
    if recursive or not target.is_dir():  # a missing folder is reported like any scan's
        report = scanner.reconcile([target])
    else:
        report = scanner.process_paths(_flat_paths(target, scanner.store.load()))
        scanner.store.write_summary(report.to_summary())
    summary = report.to_summary()
    summary["matching_models"] = matching_models(scanner.store.load(),
                                                 kwargs.get("query_ontology"))
    return summary


__all__ = ["PIPELINE_KEYWORDS", "ModelRegistry", "matching_models", "process_model_registry"]
