"""A service module running in its own process (the child side).

Flux runs every broker module in a thread of its own, so a busy KVS and a busy
job-manager use two cores.  Python threads share one interpreter lock, so
here a module listed in the broker's ``module_processes`` (by default the
KVS, on rank 0 of a broker that runs in its own process) is started as
``python -m fluxlab.broker.modproc`` instead; see :mod:`fluxlab.broker._procmod`
for the broker side and ``docs/spec/broker.md`` for the protocol.

The child connects to its broker's client socket as a DEALER whose identity
the broker chose, so the broker knows its route id before it connects and
queues the module's requests until it says hello.  The link is
:class:`~fluxlab.transport.zmtp.ZmtpDealer` (ZMTP over the UNIX socket, read
and written by the module's own thread): a pyzmq socket would add its I/O
thread's hand-offs to every round trip the broker's modules make to this one.
Inside, the unchanged :class:`~fluxlab.broker.modhandle.ModuleHandle` runs against
:class:`RemoteBroker`, which implements the few broker methods a module
handle calls by sending messages up the socket:

* a request the module sends goes up as a client request (the broker pushes
  this client's hop onto its route, so the response comes back here, where
  the handle matches it by matchtag);
* a response keeps the route stack of the request it answers;
* event subscriptions are ``event.subscribe`` requests; log lines are
  ``log.append`` requests.

Invariants: requests reach the module in the order the broker forwarded
them, and a ``MODULE_STOP`` control message is handled after every request
sent before it, so the module's :meth:`~fluxlab.core.module.ServiceModule.stop`
(the KVS's final flush) sees them all.  The child exits when its broker's
connection goes away.
"""

from __future__ import annotations

import errno
import gc
import json
import os
import sys
from typing import Any

from fluxlab._proto import (
    CONTROL,
    EVENT,
    FLAG_NORESPONSE,
    REQUEST,
    RESPONSE,
    Message,
    ProtocolError,
    decode,
)
from fluxlab.broker.config import CT, PROCESS_GC_THRESHOLD
from fluxlab.broker.modhandle import ModuleHandle
from fluxlab.core.errors import ServiceError
from fluxlab.core.reactor import Reactor
from fluxlab.transport.zmtp import ZmtpDealer

__all__ = ["RemoteBroker", "main"]


class _Attrs:
    """The broker's attributes as they were when the module was started."""

    def __init__(self, values: dict[str, str]):
        self._values = values

    def get(self, name: str) -> str:
        try:
            return self._values[name]
        except KeyError:
            raise ServiceError(errno.ENOENT, f"unknown attribute {name!r}") from None


class RemoteBroker:
    """What a :class:`ModuleHandle` needs of a broker, over a DEALER socket.

    Parameters
    ----------
    spec : dict
        The start-up description written by the broker (see
        :func:`fluxlab.broker._procmod.spawn_spec`).
    """

    def __init__(self, spec: dict):
        self.rank = int(spec["rank"])
        self.size = int(spec["size"])
        self.name = spec["name"]
        self.reactor = Reactor(f"module-{self.name}")
        self.attrs = _Attrs(spec["attrs"])
        self.conf = spec.get("conf") or {}
        uri = spec["uri"]
        if not uri.startswith("ipc://"):
            raise ValueError(f"module processes need an ipc:// broker endpoint, not {uri!r}")
        self.link = ZmtpDealer(uri[len("ipc://") :], spec["ident"].encode(), timeout=30.0)
        self._subs: list[tuple[str, Any, Any]] = []
        self.handle: ModuleHandle | None = None
        self.module = None
        self.topics: dict[str, tuple[Any, bool]] = {}
        self.exit_code = 0
        self._out: list[list[bytes]] = []
        self._out_scheduled = False

    # -- what ModuleHandle calls -------------------------------------------------
    def _send(self, msg: Message) -> None:
        """Queue ``msg`` for the broker; everything queued in one reactor turn
        goes out in one write (a KVS batch answers many commits at once, and
        each write costs a system call and a wake-up of the broker's I/O)."""
        self._out.append(msg.encode())
        if not self._out_scheduled:
            self._out_scheduled = True
            self.reactor.call_soon(self._flush_out)

    def _flush_out(self) -> None:
        """Write the queued messages, in order (also called before exit)."""
        self._out_scheduled = False
        out, self._out = self._out, []
        if out:
            try:
                self.link.send_many(out)
            except OSError:
                pass  # lost is set; _on_input sees the EOF and exits

    def route_request(self, msg: Message, hop: str) -> None:
        self._send(msg)

    def route_response(self, msg: Message) -> None:
        if msg.route:
            self._send(msg)

    def module_subscribe(self, h: ModuleHandle, prefix: str, fn) -> None:
        self._subs.append((prefix, h, fn))
        h.send_noresponse("event.subscribe", {"topic": prefix})

    def module_unsubscribe(self, h: ModuleHandle, prefix: str) -> None:
        self._subs = [s for s in self._subs if not (s[1] is h and s[0] == prefix)]
        h.send_noresponse("event.unsubscribe", {"topic": prefix})

    def log(self, level: int, text: str, component: str = "broker") -> None:
        payload = {"level": int(level), "message": str(text), "component": component}
        self._send(Message.request("log.append", payload, flags=FLAG_NORESPONSE))

    # -- life cycle ------------------------------------------------------------
    def start(self, cls, args: list[str]) -> None:
        """Construct and start the module, then tell the broker it may send."""
        h = ModuleHandle(self, self.name, self.conf)
        mod = cls(h, *args)
        h.module = mod
        self.handle, self.module = h, mod
        reqs, evts = mod._handlers()
        self.topics = reqs
        for prefix, fn in evts:
            self.module_subscribe(h, prefix, fn)
        mod.start()
        self._send(
            Message.control(
                CT.CLIENT_HELLO, 0, {"pid": os.getpid(), "hostname": os.uname().nodename}
            )
        )
        self.reactor.add_reader(self.link.fileno(), self._on_input)
        self.reactor.call_soon(self._on_input)  # messages read with the handshake

    def log_stderr(self, text: str) -> None:
        os.write(2, f"fluxlab module {self.name} (pid {os.getpid()}): {text}\n".encode())

    def _on_input(self) -> None:
        for frames in self.link.recv():
            try:
                msg = decode(frames)
            except ProtocolError:
                continue
            mtype = msg.type
            if mtype == REQUEST:
                self._request(msg)
            elif mtype == RESPONSE:
                self.handle.deliver_response(msg)
            elif mtype == EVENT:
                topic = msg.topic
                for prefix, _h, fn in self._subs:
                    if topic.startswith(prefix):
                        self.module._dispatch_event(fn, msg)
            elif mtype == CONTROL and msg.aux1 == CT.MODULE_STOP:
                self.stop()
                return
        if self.link.lost is not None:
            self.log_stderr(f"lost the connection to its broker ({self.link.lost}); exiting")
            self.exit_code = 1
            self.reactor.remove_reader(self.link.fileno())
            self.reactor.stop()

    def _request(self, msg: Message) -> None:
        entry = self.topics.get(msg.topic)
        if entry is None:
            self.handle.respond_error(
                msg, errno.ENOSYS, f"service {self.name!r} has no method {msg.topic!r}"
            )
            return
        fn, streaming = entry
        self.module._dispatch_request(fn, streaming, msg)

    def stop(self) -> None:
        """Stop the module (it flushes), end its streams, say goodbye and exit."""
        mod, h = self.module, self.handle
        try:
            mod.stop()
        finally:
            for req in list(mod.streams.values()):
                h.respond_error(req, errno.ENOSYS, f"module {self.name} was unloaded")
            mod.streams.clear()
            h.fail_all(errno.ENOSYS, f"module {self.name} was unloaded")
            self._send(Message.control(CT.CLIENT_GOODBYE))
            self._flush_out()
            self.reactor.stop()

    def close(self) -> None:
        self._flush_out()
        self.reactor.close()
        self.link.close()  # sends were blocking: everything is with the broker


def main() -> int:
    """Read the start-up spec (JSON) from stdin, run the module until stopped."""
    from fluxlab.broker.modules import ModuleLoadError, find_module_class

    gc.set_threshold(*PROCESS_GC_THRESHOLD)
    try:
        spec = json.loads(sys.stdin.buffer.read())
        cls = find_module_class(spec["module"])
    except (ValueError, KeyError, ModuleLoadError) as e:
        os.write(2, f"fluxlab module process: bad start-up spec: {e}\n".encode())
        return 2
    try:
        rb = RemoteBroker(spec)
    except OSError as e:  # the broker went away before its module could connect
        os.write(2, f"fluxlab module {spec.get('name')}: cannot reach its broker: {e}\n".encode())
        return 1
    try:
        rb.start(cls, list(spec.get("args") or []))
    except Exception as e:  # noqa: BLE001 - reported, and the broker sees the exit
        rb.log_stderr(f"start failed: {type(e).__name__}: {e}")
        rb.log(3, f"module {rb.name}: start failed in its process: {e}", rb.name)
        rb.close()
        return 1
    rb.reactor.run()
    rb.close()
    return rb.exit_code


if __name__ == "__main__":
    sys.exit(main())
