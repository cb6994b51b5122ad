"""Scanning: discovery, reading and analysing files, registration, reports."""

from __future__ import annotations
