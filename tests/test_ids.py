"""Model ids: directory-safe, unique, deterministic."""

from __future__ import annotations

import string
from pathlib import PurePosixPath

from hypothesis import given
from hypothesis import strategies as st

from registry.model.ids import (
    FALLBACK_ID,
    MAX_ID_BYTES,
    _general_safe_id,
    allocate_id,
    is_safe_id,
    safe_id,
    sub_model_id,
)


class TestSafeId:
    @given(st.text(alphabet=string.ascii_letters + string.digits + "_.-# ", max_size=120))
    def test_fast_path_agrees_with_the_general_rules(self, stem):
        """The ASCII shortcut returns what the character-by-character rules return."""
        assert safe_id(stem) == _general_safe_id(stem, MAX_ID_BYTES)
        assert safe_id(stem, limit=20) == _general_safe_id(stem, 20)

    def test_plain_stem_is_kept(self):
        """An ordinary stem is its own id."""
        assert safe_id("actinf_pomdp_agent") == "actinf_pomdp_agent"

    def test_unicode_letters_are_kept_and_normalised(self):
        """Greek and accented letters stay, in NFC form."""
        assert safe_id("π_policy") == "π_policy"
        assert safe_id("cafe\u0301") == "caf\u00e9"

    def test_runs_of_other_characters_become_one_underscore(self):
        """Spaces, slashes and punctuation collapse to single underscores."""
        assert safe_id("my model (v2)") == "my_model_v2_"
        assert safe_id("a/b\\c") == "a_b_c"
        assert safe_id("tab\there\nnew") == "tab_here_new"

    def test_leading_dots_and_dashes_are_stripped(self):
        """No hidden directories and nothing that looks like an option."""
        assert safe_id("..hidden") == "hidden"
        assert safe_id("--rf") == "rf"

    def test_never_empty_or_dot(self):
        """Stems with nothing usable fall back to a fixed id."""
        for stem in ("", ".", "..", "???", "___", "-"):
            assert safe_id(stem) == FALLBACK_ID

    def test_long_stems_are_cut_with_a_hash(self):
        """Long stems fit the byte limit and two long stems with one prefix stay apart."""
        one = safe_id("x" * 300 + "one")
        two = safe_id("x" * 300 + "two")
        assert len(one.encode()) <= MAX_ID_BYTES
        assert one != two
        greek = safe_id("π" * 200)
        assert len(greek.encode()) <= MAX_ID_BYTES
        assert greek.startswith("π")

    @given(st.text(alphabet=st.characters(), max_size=300))
    def test_any_text_gives_a_safe_id(self, stem):
        """Whatever the file is called, the id is usable as a directory name."""
        out = safe_id(stem)
        assert out
        assert out not in (".", "..")
        assert "/" not in out
        assert "\x00" not in out
        assert not out.startswith((".", "-"))
        assert len(out.encode("utf-8")) <= MAX_ID_BYTES
        assert is_safe_id(out)


class TestAllocate:
    def test_free_stem_is_used(self):
        """A stem nobody holds becomes the id."""
        assert allocate_id(PurePosixPath("/m/multiagent/multi_agent_coordination.md"),
                           set()) == "multi_agent_coordination"

    def test_taken_stem_gets_the_parent_folder(self):
        """A second file with a taken stem is told apart by its folder."""
        taken = {"multi_agent_coordination"}
        path = PurePosixPath("/x/multi_agent_models/multi_agent_coordination.md")
        assert allocate_id(path, taken) == "multi_agent_models__multi_agent_coordination"

    def test_then_a_counter(self):
        """When the folder form is taken too, a counter follows."""
        taken = {"m", "d__m", "d__m_2"}
        assert allocate_id(PurePosixPath("/a/d/m.md"), taken) == "d__m_3"

    def test_sub_model_ids(self):
        """Model k of a multi-model file is <id>--k; the first keeps the file's id."""
        assert sub_model_id("f", 0, set()) == "f"
        assert sub_model_id("f", 1, set()) == "f--2"
        assert sub_model_id("f", 1, {"f--2"}) == "f--2_2"

    def test_safe_id_check(self):
        """Ids that could escape a directory are refused."""
        assert not is_safe_id("../x")
        assert not is_safe_id(".")
        assert not is_safe_id("a/b")
        assert is_safe_id(string.ascii_letters)
