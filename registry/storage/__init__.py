"""Storage of the registry: the SQLite store of record and everything derived from it.

The SQL of the project lives only in this package:

* :mod:`registry.storage.schema` - tables, ``PRAGMA user_version`` and forward-only migrations;
* :mod:`registry.storage.db` - opening a database file safely (type and header checks,
  pragmas, the schema check) and telling corruption from contention;
* :mod:`registry.storage.codec` - one model's rows <-> :class:`~registry.model.entries.ModelEntry`;
* :mod:`registry.storage.models` - the lazy ``doc.models`` mapping over one connection;
* :mod:`registry.storage.backups` - online backups, their names, rotation and restore;
* :mod:`registry.storage.jsonimport` - first-open import of a JSON registry.

:class:`registry.storage.store.RegistryStore` is the small interface the use cases call.
"""
