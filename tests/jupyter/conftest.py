"""Fixtures for the notebook layer: an embedded instance with the notebook modules."""

from __future__ import annotations

import pytest

import fluxlab
from fluxlab.jupyter.session import notebook_modules

CONF = {"resource": {"cores-per-node": 4, "gpus-per-node": 1, "hostnames": "node[0-3]"}}


def has_module(name: str) -> bool:
    return any(m[0] == name for m in (notebook_modules() or [("job-exec", "0", [])]))


@pytest.fixture
def instance():
    inst = fluxlab.start(size=4, modules=notebook_modules(), conf=CONF)
    try:
        yield inst
    finally:
        inst.stop()


@pytest.fixture
def live(instance):
    from fluxlab.jupyter.live import Live

    lv = Live(instance.uri)
    try:
        yield lv
    finally:
        lv.close()
