"""The model rules: entries, ids, versions, lifecycle, relationships, search, queries."""

from __future__ import annotations
