"""Shared pytest configuration for fluxlab's test suite."""

from __future__ import annotations

import pathlib

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
CONFORMANCE = (ROOT.parent / "shared" / "conformance").resolve()


@pytest.fixture(scope="session")
def conformance() -> pathlib.Path:
    """Path of ``../shared/conformance``; skips the test when it is absent."""
    if not CONFORMANCE.is_dir():
        pytest.skip(
            f"conformance data not found at {CONFORMANCE} (run from a checkout beside shared/)"
        )
    return CONFORMANCE
