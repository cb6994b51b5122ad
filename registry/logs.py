"""Library logging defaults: events go to stdlib ``logging`` and are silent unless configured.

Modules of this package log with ``structlog.get_logger(__name__)``. structlog's own default
prints every event to standard output, which a library must never do to its caller (a
pipeline calling :func:`registry.process_model_registry` owns its stdout). So, when the
package is imported and structlog has not been configured yet, :func:`install_defaults`
routes events to the stdlib logger of the module's name (``registry.storage.store``,
``registry.scanning.scan``...):

- the ``registry`` logger gets a :class:`logging.NullHandler`, so nothing is printed while
  the application configures no logging (not even stdlib's last-resort handler on stderr);
- an application that configures stdlib logging (``logging.basicConfig``, the GNN
  pipeline's own set-up) sees the events at the levels it enables, rendered as
  ``event='registry_written' path='...' ...`` (values shown with ``repr``, so a file name
  cannot forge a log line);
- events below the stdlib logger's effective level are dropped before they are rendered.

An entry point that configures structlog itself (``daemon.logconfig.configure_logging``)
replaces these defaults; it runs after this import, so its configuration wins.

Trade-off: structlog's configuration is process-wide, so a host program that also uses
structlog *without configuring it* gets these defaults for its own loggers too (its events go
to stdlib logging instead of stdout). Such a program calls ``structlog.configure(...)`` (or
``structlog.reset_defaults()``) after importing this package; one that configures structlog
already needs to do nothing.
"""

from __future__ import annotations

import logging

import structlog
from structlog.types import EventDict, Processor, WrappedLogger

LIBRARY_LOGGER = "registry"
"""The stdlib logger every module logger of this package is a child of."""

_METHOD_LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "msg": logging.INFO,
    "warning": logging.WARNING,
    "warn": logging.WARNING,
    "error": logging.ERROR,
    "exception": logging.ERROR,
    "critical": logging.CRITICAL,
    "fatal": logging.CRITICAL,
}


def _drop_disabled(logger: WrappedLogger, method_name: str, event_dict: EventDict) -> EventDict:
    """Drop an event the stdlib logger would not emit (before any rendering work).

    A logger without ``isEnabledFor`` (a test helper's print logger) lets everything through.
    """
    enabled = getattr(logger, "isEnabledFor", None)
    if enabled is not None and not enabled(_METHOD_LEVELS.get(method_name, logging.INFO)):
        raise structlog.DropEvent
    return event_dict


def default_processors() -> list[Processor]:
    """The processor chain of the library defaults (filter, exception text, key=value)."""
    return [
        _drop_disabled,
        structlog.processors.format_exc_info,
        structlog.processors.KeyValueRenderer(key_order=["event"], drop_missing=True),
    ]


def install_defaults() -> None:
    """Route this package's structlog events to stdlib logging, unless structlog is configured.

    Idempotent. Called when :mod:`registry` is imported, and by
    ``daemon.logconfig.reset_logging`` after it resets structlog.
    """
    library = logging.getLogger(LIBRARY_LOGGER)
    if not any(isinstance(h, logging.NullHandler) for h in library.handlers):
        library.addHandler(logging.NullHandler())
    if structlog.is_configured():
        return
    structlog.configure(
        processors=default_processors(),
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.make_filtering_bound_logger(logging.NOTSET),
        cache_logger_on_first_use=False,
    )


__all__ = ["LIBRARY_LOGGER", "default_processors", "install_defaults"]
