"""A removed module's code never runs again: its pending RPCs fail without
calling back into it, while a thread blocked on one of them still wakes."""

from __future__ import annotations

import errno
import threading

import pytest

import fluxlab
from fluxlab.core.errors import FluxError
from fluxlab.core.module import ServiceModule


class Waiter(ServiceModule):
    """Asks the KVS for a version that never comes, and records any callback."""

    name = "waiter"

    def start(self) -> None:
        self.called: list = []
        self.fut = self.h.rpc("kvs.wait-version", {"version": 10**9})
        self.fut.then(lambda f: self.called.append(f))


def test_removed_module_is_not_called_back_but_waiters_wake():
    with fluxlab.start(size=1) as inst:
        broker = inst.brokers[0]
        loaded = threading.Event()
        box: dict = {}

        def load():
            broker.load_module("waiter", cls=Waiter)
            box["mod"] = broker.modules["waiter"].module
            loaded.set()

        broker.reactor.call_soon_threadsafe(load)
        assert loaded.wait(10), "module did not load"
        mod = box["mod"]
        removed = threading.Event()
        broker.reactor.call_soon_threadsafe(lambda: (broker.remove_module("waiter"), removed.set()))
        assert removed.wait(10), "module was not removed"
        with pytest.raises(FluxError) as e:
            mod.fut.get(timeout=10)  # the blocked reader wakes with the error
        assert e.value.errno == errno.ENOSYS and "unloaded" in str(e.value)
        # a round trip through the reactor: anything scheduled has run by now
        h = inst.handle()
        h.rpc("broker.ping").get(timeout=10)
        h.close()
        assert mod.called == []
