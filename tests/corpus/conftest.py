"""Fixtures of the corpus tests."""

from __future__ import annotations

import pytest

from ._audio import make_bad_corpus


@pytest.fixture()
def bad_corpus(tmp_path):
    return make_bad_corpus(tmp_path / "bad")
