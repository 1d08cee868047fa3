"""A service module that drives a :class:`KVSBatcher` (loaded by path at run time)."""

from fluxlab.core.module import ServiceModule, request_handler, unpack
from fluxlab.exec.kvsbatch import KVSBatcher


class BatchProbe(ServiceModule):
    name = "batchprobe"

    def start(self):
        self.kvs = KVSBatcher(self.h)

    @request_handler("sent")
    def sent(self, msg):
        """Append ``text`` to ``key``; once the commit is sent, read the KVS.

        Answers what a getroot and then a lookup, both sent from the
        ``when_sent`` callback, saw, and whether the commit had been answered
        when the callback ran."""
        key, text = unpack(msg, ("key", str), ("text", str))
        self.defer(msg)
        answered: list = []
        out: dict = {}

        def on_sent():
            out["answered_first"] = bool(answered)
            self.h.rpc("kvs.getroot").then(got, "getroot")
            self.h.rpc("kvs.lookup", {"key": key}).then(got, "lookup")

        def got(fut, what):
            try:
                out[what] = fut.get()
            except OSError as e:
                out[what] = {"error": str(e)}
            if "getroot" in out and "lookup" in out:
                self.respond(
                    msg,
                    {
                        "seen": out["lookup"].get("data", out["lookup"].get("error")),
                        "answered_first": out["answered_first"],
                        "versions": [out["getroot"].get("version"), out["lookup"].get("version")],
                    },
                )

        self.kvs.append(key, text)
        self.kvs.then(answered.append)
        self.kvs.when_sent(on_sent)
