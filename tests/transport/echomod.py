"""A service module used by the messaging tests (loaded by path at run time)."""

import errno

from fluxlab.core.errors import ServiceError
from fluxlab.core.module import ServiceModule, event_handler, request_handler, unpack


class Echo(ServiceModule):
    name = "echo"

    def start(self):
        self.events = []
        self.disconnects = []

    @request_handler("hello")
    def hello(self, msg):
        return {"echo": msg.payload, "rank": self.h.rank}

    @request_handler("count", streaming=True)
    def count(self, msg):
        (n,) = unpack(msg, ("n", int))
        for i in range(n):
            self.respond(msg, {"i": i})
        self.respond_error(msg, errno.ENODATA)

    @request_handler("forever", streaming=True)
    def forever(self, msg):
        self.stream_add(msg)
        self.respond(msg, {"started": True})

    @request_handler("fail")
    def fail(self, msg):
        raise ServiceError(errno.EPERM, "not allowed here")

    @request_handler("boom")
    def boom(self, msg):
        raise RuntimeError("kaboom")

    @request_handler("relay")
    async def relay(self, msg):
        (rank,) = unpack(msg, ("rank", int))
        resp = await self.h.rpc("broker.ping", {"via": self.h.rank}, nodeid=rank)
        return {"pong": resp}

    @request_handler("later")
    def later(self, msg):
        self.defer(msg)
        self.h.reactor.call_later(0.01, self.respond, msg, {"late": True})

    @request_handler("seen")
    def seen(self, msg):
        return {
            "events": self.events,
            "disconnects": self.disconnects,
            "streams": len(self.streams),
        }

    @event_handler("test.")
    def on_test(self, msg):
        self.events.append([msg.topic, msg.seq, msg.payload])

    def on_disconnect(self, sender):
        self.disconnects.append(sender)
