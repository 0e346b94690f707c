"""Fixtures for ranking tests."""

from __future__ import annotations

import pandas as pd
import pytest

from babelscope.rank import ArrayStore

from ._data import make_samples, make_store


@pytest.fixture(scope="module")
def samples() -> pd.DataFrame:
    return make_samples()


@pytest.fixture(scope="module")
def store(samples) -> ArrayStore:
    return make_store(samples)
