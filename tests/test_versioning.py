"""Semantic versions: parsing, bumping, and the next version of a changed model."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from registry.model.records import ModelEntry, VersionRecord
from registry.model.versioning import (
    bump,
    first_version,
    highest_version,
    next_version,
    parse_version,
)


def entry_with(*versions: str, current: str | None = None) -> ModelEntry:
    records = [VersionRecord(v, f"sha{v}", "t", "/f.md", 1, "patch") for v in versions]
    return ModelEntry("m", "m", "/f.md", 1, "t", "t", current or versions[-1], versions=records)


class TestParse:
    def test_valid_versions(self):
        """Plain MAJOR.MINOR.PATCH parses to numbers."""
        assert parse_version("1.0.0") == (1, 0, 0)
        assert parse_version(" 2.13.4 ") == (2, 13, 4)

    @pytest.mark.parametrize("text", ["1.0", "v1.0.0", "01.0.0", "1.0.0-rc1", "", "a.b.c", None, 3])
    def test_invalid_versions(self, text):
        """Anything else is not a version."""
        assert parse_version(text) is None

    def test_bump_kinds(self):
        """Major, minor and patch bumps reset the lower parts."""
        assert bump("1.2.3", "major") == "2.0.0"
        assert bump("1.2.3", "minor") == "1.3.0"
        assert bump("1.2.3", "patch") == "1.2.4"

    def test_bump_refuses_garbage(self):
        """Bumping a non-version is an error."""
        with pytest.raises(ValueError):
            bump("latest", "patch")

    def test_highest(self):
        """The greatest version wins, by number not by text."""
        assert highest_version(["1.9.0", "1.10.0", "junk"]) == "1.10.0"
        assert highest_version([]) is None


class TestChoose:
    def test_first_version(self):
        """A first registration takes a valid declared version, else 1.0.0."""
        assert first_version(None).version == "1.0.0"
        assert first_version("2.3.0").version == "2.3.0"
        assert first_version("v2").version == "1.0.0"

    def test_bump_from_the_highest_existing(self):
        """Bumps start from the highest version ever minted, not the current one."""
        choice = next_version(entry_with("1.0.0", "2.0.0", current="1.0.0"), "patch")
        assert (choice.version, choice.change, choice.conflict) == ("2.0.1", "patch", None)

    def test_declared_greater_version_is_honoured(self):
        """A new, higher declared version is used as is."""
        choice = next_version(entry_with("1.0.0"), "patch", "2.3.0")
        assert (choice.version, choice.change, choice.conflict) == ("2.3.0", "declared", None)

    def test_declared_existing_version_is_a_conflict(self):
        """A declared version already used with other content is bumped instead."""
        choice = next_version(entry_with("1.0.0", "1.1.0"), "minor", "1.0.0")
        assert choice.version == "1.2.0"
        assert choice.conflict
        assert "already exists" in choice.conflict

    def test_declared_current_version_with_new_content_is_a_conflict(self):
        """Editing a file that still declares its current version bumps and warns."""
        choice = next_version(entry_with("2.3.0"), "patch", "2.3.0")
        assert choice.version == "2.3.1"
        assert choice.conflict is not None

    def test_declared_lower_version_is_a_conflict(self):
        """A declared version below an existing one is refused."""
        choice = next_version(entry_with("3.0.0"), "patch", "2.9.0")
        assert choice.version == "3.0.1"
        assert choice.conflict
        assert "lower" in choice.conflict

    @given(st.lists(st.sampled_from(["major", "minor", "patch"]), min_size=1, max_size=30))
    def test_versions_only_grow(self, kinds):
        """A sequence of bumps never repeats or lowers a version."""
        entry = entry_with("1.0.0")
        for kind in kinds:
            choice = next_version(entry, kind)
            assert parse_version(choice.version) > parse_version(entry.version)
            assert entry.version_record(choice.version) is None
            entry.versions.append(VersionRecord(choice.version, "s", "t", "/f.md", 1, kind))
            entry.version = choice.version
