"""gnn-registry's core: a drop-in for the GNN pipeline's step-4 module ``model_registry``.

A pipeline switches with one import::

    from registry import ModelRegistry, process_model_registry

The package also has the upstream module's surface: ``__version__``, :data:`FEATURES` and
:func:`get_module_info` (the pipeline's module discovery reads them). The API names are
loaded on first use, so importing a sub-module (``registry.gnn``...) stays light.

Importing the package installs the library logging defaults (:mod:`registry.logs`): events
go to stdlib ``logging``, silent unless the application configures it.
"""

from __future__ import annotations

from importlib import metadata as _metadata
from typing import TYPE_CHECKING, Any

from registry.logs import install_defaults as _install_log_defaults

if TYPE_CHECKING:
    from registry.api import ModelRegistry, process_model_registry
    from registry.api_entries import ModelEntry, ModelVersion

_install_log_defaults()


def _package_version() -> str:
    try:
        return _metadata.version("gnn-registry")
    except _metadata.PackageNotFoundError:  # pragma: no cover - running from a bare checkout
        return "0+unknown"


__version__: str = _package_version()
"""This distribution's version (``gnn-registry``)."""

FEATURES: dict[str, bool] = {
    # The upstream module's keys.
    "model_versioning": True,
    "registry_management": True,
    "metadata_handling": True,
    "mcp_integration": True,
    # Ours.
    "semantic_versioning": True,
    "gnn_validation": True,
    "lifecycle_states": True,
    "aliases": True,
    "relationships": True,
    "field_search": True,
    "durable_store": True,
    "watch_service": True,
    "mcp_server": True,
}
"""What this module can do: the upstream step-4 keys plus this project's own."""


def get_module_info() -> dict[str, Any]:
    """Module metadata for the pipeline's module discovery and MCP listings.

    Returns:
        ``name`` (``model_registry``, the name the pipeline knows the step's module by),
        ``version``, ``description`` and ``features`` (a copy of :data:`FEATURES`).
    """
    return {
        "name": "model_registry",
        "version": __version__,
        "description": ("GNN model registry: validation, semantic versioning, lifecycle, "
                        "relationships and search, durable and crash-safe (gnn-registry)"),
        "features": dict(FEATURES),
    }


def __getattr__(name: str) -> Any:
    """Load the API names on first use (PEP 562); static imports, nothing named at run time."""
    if name in ("ModelRegistry", "process_model_registry"):
        from registry import api  # noqa: PLC0415 - lazy by design

        value = getattr(api, name)
    elif name in ("ModelEntry", "ModelVersion"):
        from registry import api_entries  # noqa: PLC0415 - lazy by design

        value = getattr(api_entries, name)
    else:
        msg = f"module 'registry' has no attribute {name!r}"
        raise AttributeError(msg)
    globals()[name] = value
    return value


__all__ = [
    "FEATURES",
    "ModelEntry",
    "ModelRegistry",
    "ModelVersion",
    "__version__",
    "get_module_info",
    "process_model_registry",
]
