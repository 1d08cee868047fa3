"""KVSBatcher.when_sent: a callback runs once the commit is sent, not answered.

job-exec releases a finished job's cores this way right after its ``done``
commit.  Users rely on the commit still landing before anything the callback
leads to: reads sent from the callback see it (docs/spec/kvs-rpc.md, "Order").
"""

import os

import pytest

import fluxlab
from fluxlab.instance.local import LocalInstance

PROBE = os.path.join(os.path.dirname(__file__), "batchmod.py")


@pytest.mark.parametrize("processes", [[], ["kvs"]], ids=["kvs-in-broker", "kvs-process"])
def test_when_sent_orders_the_commit_before_what_follows(processes):
    with LocalInstance(1, conf={"broker": {"module-processes": processes}}) as inst:
        with fluxlab.Flux(inst.uri) as h:
            h.rpc("module.load", {"name": PROBE}).get(timeout=60)
            for i in range(5):
                out = h.rpc("batchprobe.sent", {"key": f"probe.k{i}", "text": f"x{i}"}).get(30)
                # the getroot went first and still saw the commit's version
                getroot, lookup = out.pop("versions")
                assert getroot == lookup, out
                assert out == {"seen": f"x{i}", "answered_first": False}
