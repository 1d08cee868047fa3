"""Test double of the ``resource`` service: just ``resource.acquire`` (RFC 28).

sched-simple asks ``resource.acquire`` for the instance's R.  The real
resource module is not on this branch yet; this fixture answers with fake
nodes (module arguments ``cores=N gpus=M``, the same shape on every rank of
the instance) and keeps the stream open.  Loaded by path in the pipeline
tests only; delete it once the real resource module is loaded by default.
"""

from fluxlab.core.module import ServiceModule, request_handler
from fluxlab.resource.rv1 import ResourceSet


class FakeResource(ServiceModule):
    name = "resource"

    def start(self):
        opts = dict(a.split("=", 1) for a in self.args)
        cores, gpus = int(opts.get("cores", 2)), int(opts.get("gpus", 0))
        self.R = ResourceSet.from_nodes(
            [(r, f"fake{r}", cores, gpus) for r in range(self.h.size)]
        ).to_dict()

    @request_handler("acquire", streaming=True)
    def acquire(self, msg):
        self.stream_add(msg)
        self.respond(msg, {"resources": self.R, "up": f"0-{self.h.size - 1}"})
