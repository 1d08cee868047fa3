"""Fixtures for the KVS model tests."""

import pytest

from fluxlab.kvs.content import MemoryContentStore
from fluxlab.kvs.model import KVSModel


@pytest.fixture
def model():
    return KVSModel(MemoryContentStore(max_blob_size=4096), owner=1000)


@pytest.fixture
def small_model():
    """A model whose directories turn into hdirs at 3 entries (2 buckets)."""
    return KVSModel(max_dirent=3, hdir_size=2, val_inline_max=8)
