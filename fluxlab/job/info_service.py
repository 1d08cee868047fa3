"""The ``job-info`` service (rank 0): read and follow a job's eventlogs.

``job-info.eventlog-watch {id, path, follow?}`` (streaming) sends one
``{"event": {timestamp, name, context}}`` response per eventlog entry of
``job.<id>.<path>`` and ends with ``ENODATA`` when the eventlog is complete:

* ``eventlog`` (the main job eventlog): after the ``clean`` event;
* ``guest.exec.eventlog``: after the ``done`` event;
* ``guest.output``: after every task's EOF on both streams (or the
  stream's ``redirect`` to a file);
* any guest eventlog: once the job is inactive and everything written is
  sent — which also ends the watch of a job canceled before it ran, whose
  guest eventlogs never appear.

``follow: false`` sends what is there now and ends (``ENOENT`` if the key
does not exist).  An unknown job is ``ENOENT``.  The watch follows the KVS
with ``kvs.watch {append: true}`` — for guest paths ``waitcreate`` as well,
plus a watch of the main eventlog to learn when the job became inactive;
a last ``kvs.lookup`` then picks up anything the guest watch had not
delivered.  ``job-info.cancel`` and the client's disconnect cancel the
underlying KVS watches.

``job-info.lookup {id, keys: [...], decode?}`` returns ``{"id", key: value
...}``: values as stored (text), with ``decode`` ``jobspec`` and ``R``
parsed from JSON.  Protocol: ``docs/spec/job-services.md``.
"""

from __future__ import annotations

import errno
import json
from typing import Any

from fluxlab._proto import FLAG_STREAMING
from fluxlab.core.errors import FluxError, ServiceError
from fluxlab.core.module import ServiceModule, request_handler, unpack
from fluxlab.job.eventlog import EventlogError, decode_event
from fluxlab.job.ingest import job_key
from fluxlab.kvs.client import raw_bytes

__all__ = ["EventlogFollower", "JobInfoModule", "OutputCompletion"]

_DECODED_KEYS = ("jobspec", "R")


class OutputCompletion:
    """Tells when an RFC 24 output eventlog is complete (pure).

    Complete once the header was seen and, for every stream it counts,
    either that many ``eof`` data events or a ``redirect`` arrived.
    """

    def __init__(self) -> None:
        self.count: dict[str, int] | None = None
        self.eofs: dict[str, int] = {}
        self.redirected: set[str] = set()

    def feed(self, event: dict) -> bool:
        """Account for one entry; return True once the log is complete."""
        name, ctx = event.get("name"), event.get("context") or {}
        if name == "header" and isinstance(ctx.get("count"), dict):
            self.count = {s: int(n) for s, n in ctx["count"].items()}
        elif name == "redirect":
            self.redirected.add(ctx.get("stream"))
        elif name == "data" and ctx.get("eof"):
            stream = ctx.get("stream")
            self.eofs[stream] = self.eofs.get(stream, 0) + 1
        return self.complete

    @property
    def complete(self) -> bool:
        if self.count is None:
            return False
        return all(s in self.redirected or self.eofs.get(s, 0) >= n for s, n in self.count.items())


class EventlogFollower:
    """Turns the chunks of an append-watched eventlog into entries (pure).

    Chunks may end in the middle of a line; the tail waits for the next
    chunk.  :attr:`nlines` counts the complete lines seen, so a later full
    read of the eventlog can skip what was already delivered.
    """

    def __init__(self, where: str):
        self.where = where
        self.nlines = 0
        self._tail = ""

    def feed(self, text: str) -> list[dict]:
        """Entries completed by ``text``; raises EventlogError for a bad line."""
        data = self._tail + text
        lines = data.split("\n")
        self._tail = lines.pop()
        events = []
        for line in lines:
            self.nlines += 1
            if not line.strip():
                raise EventlogError(f"{self.where} line {self.nlines}: empty line")
            try:
                events.append(dict(decode_event(line)))
            except EventlogError as e:
                raise EventlogError(f"{self.where} line {self.nlines}: {e}") from None
        return events

    def feed_full(self, text: str) -> list[dict]:
        """Entries of the whole eventlog ``text`` beyond those already seen."""
        lines = text.split("\n")
        tail = lines.pop()
        new = lines[self.nlines :]
        self._tail = ""
        return self.feed("\n".join(new) + "\n" + tail if new else tail)


class _Watch:
    """One ``eventlog-watch`` request."""

    def __init__(self, mod: JobInfoModule, msg: Any, jobid: int, path: str):
        self.mod = mod
        self.msg = msg
        self.id = jobid
        self.path = path
        self.key = job_key(jobid, path)
        self.follower = EventlogFollower(f"job {jobid} {path}")
        self.output = OutputCompletion() if path == "guest.output" else None
        self.main = EventlogFollower(f"job {jobid} eventlog")
        self.kvs_futs: list[Any] = []
        self.ended = False
        self.inactive = False

    # -- plumbing -------------------------------------------------------------------
    def _watch(self, key: str, waitcreate: bool, cb) -> None:
        payload = {"key": key, "append": True, "waitcreate": waitcreate}
        fut = self.mod.h.rpc("kvs.watch", payload, flags=FLAG_STREAMING)
        self.kvs_futs.append(fut)
        fut.then(cb)

    def stop(self) -> None:
        """Cancel the KVS watches (the stream is ended by the caller)."""
        self.ended = True
        futs, self.kvs_futs = self.kvs_futs, []
        for fut in futs:
            fut.cancel()
            self.mod.h.forget(fut)

    def end(self, errnum: int = errno.ENODATA, text: str = "") -> None:
        if self.ended:
            return
        self.stop()
        self.mod.watch_ended(self, errnum, text)

    def send(self, events: list[dict]) -> bool:
        """Send entries; True if the eventlog is complete (stream ended)."""
        for event in events:
            self.mod.respond(self.msg, {"event": event})
            if self._last(event):
                self.end()
                return True
        return False

    def _last(self, event: dict) -> bool:
        name = event.get("name")
        if self.path == "eventlog":
            return name == "clean"
        if self.path == "guest.exec.eventlog":
            return name == "done"
        if self.output is not None:
            return self.output.feed(event)
        return False

    def _chunk(self, fut: Any) -> str | None:
        """The next chunk of a watch, or None after ending the request on error."""
        try:
            resp = fut.get()
        except FluxError as e:
            if not self.ended:
                self._watch_error(e)
            return None
        fut.reset()
        if self.ended:
            return None
        return raw_bytes(resp).decode("utf-8", errors="replace")

    def _watch_error(self, e: FluxError) -> None:
        if e.errno == errno.ENOENT:
            self.end(errno.ENOENT, f"job {self.id}: no such job or eventlog ({self.path})")
        else:
            self.end(e.errno, f"job {self.id} {self.path}: {e}")

    def _deliver(self, text: str, full: bool = False) -> bool:
        try:
            events = self.follower.feed_full(text) if full else self.follower.feed(text)
        except EventlogError as e:
            self.end(errno.EPROTO, str(e))
            return True
        return self.send(events)

    # -- follow ----------------------------------------------------------------------
    def start(self, follow: bool) -> None:
        if not follow:
            self.mod.h.rpc("kvs.lookup", {"key": self.key}).then(self._looked_up)
        elif self.path == "eventlog":
            self._watch(self.key, False, self._on_main_only)
        else:
            self._watch(job_key(self.id, "eventlog"), False, self._on_main)
            self._watch(self.key, True, self._on_guest)

    def _looked_up(self, fut: Any) -> None:
        try:
            resp = fut.get()
        except FluxError as e:
            self._watch_error(e)
            return
        if not self._deliver(raw_bytes(resp).decode("utf-8", errors="replace"), full=True):
            self.end()

    def _on_main_only(self, fut: Any) -> None:
        text = self._chunk(fut)
        if text is not None:
            self._deliver(text)

    def _on_guest(self, fut: Any) -> None:
        text = self._chunk(fut)
        if text is not None:
            self._deliver(text)

    def _on_main(self, fut: Any) -> None:
        text = self._chunk(fut)
        if text is None:
            return
        try:
            events = self.main.feed(text)
        except EventlogError as e:
            self.end(errno.EPROTO, str(e))
            return
        if not self.inactive and any(ev.get("name") == "clean" for ev in events):
            # the job is inactive: send what the guest watch has not delivered yet, then end
            self.inactive = True
            self.mod.h.rpc("kvs.lookup", {"key": self.key}).then(self._final)

    def _final(self, fut: Any) -> None:
        if self.ended:
            return
        try:
            resp = fut.get()
        except FluxError as e:
            if e.errno == errno.ENOENT:  # the job never ran: nothing to send
                self.end()
            else:
                self.end(e.errno, f"job {self.id} {self.path}: {e}")
            return
        if not self._deliver(raw_bytes(resp).decode("utf-8", errors="replace"), full=True):
            self.end()


class JobInfoModule(ServiceModule):
    """``job-info``: eventlog watches and lookups of job keys."""

    name = "job-info"

    def start(self) -> None:
        self.watches: dict[tuple[str, int], _Watch] = {}
        self.watches_started = 0

    def stop(self) -> None:
        for w in list(self.watches.values()):
            w.stop()
        self.watches.clear()

    def stats(self) -> dict:
        return {"watchers": len(self.watches), "watches-started": self.watches_started}

    @request_handler("eventlog-watch", streaming=True)
    def eventlog_watch(self, msg):
        jobid, path, follow = unpack(msg, ("id", int), ("path", str), ("follow", bool, True))
        _check_id(jobid, "job-info.eventlog-watch")
        _check_path(path, "job-info.eventlog-watch")
        w = _Watch(self, msg, jobid, path)
        self.stream_add(msg)
        self.watches[(msg.sender, msg.matchtag)] = w
        self.watches_started += 1
        w.start(follow)

    def watch_ended(self, w: _Watch, errnum: int, text: str) -> None:
        self.watches.pop((w.msg.sender, w.msg.matchtag), None)
        self.stream_end(w.msg, errnum, text)

    def on_cancel(self, msg) -> None:
        w = self.watches.pop((msg.sender, msg.matchtag), None)
        if w is not None:
            w.stop()

    def on_disconnect(self, sender: str) -> None:
        for key in [k for k in self.watches if k[0] == sender]:
            self.watches.pop(key).stop()

    @request_handler("lookup")
    async def lookup(self, msg):
        jobid, keys, decode = unpack(msg, ("id", int), ("keys", list), ("decode", bool, False))
        _check_id(jobid, "job-info.lookup")
        for k in keys:
            if not isinstance(k, str):
                raise ServiceError(errno.EPROTO, "job-info.lookup: keys must be strings")
            _check_path(k, "job-info.lookup")
        futs = [(k, self.h.rpc("kvs.lookup", {"key": job_key(jobid, k)})) for k in keys]
        out: dict[str, Any] = {"id": jobid}
        for k, fut in futs:
            try:
                resp = await fut
            except FluxError as e:
                if e.errno == errno.ENOENT:
                    raise ServiceError(errno.ENOENT, f"job {jobid}: key {k!r} not found") from None
                raise
            text = raw_bytes(resp).decode("utf-8", errors="replace")
            if decode and k in _DECODED_KEYS:
                try:
                    out[k] = json.loads(text)
                except ValueError as e:
                    raise ServiceError(errno.EPROTO, f"job {jobid}: {k} is not JSON: {e}") from None
            else:
                out[k] = text
        return out


def _check_id(jobid: int, where: str) -> None:
    if not 0 <= jobid < 2**64:
        raise ServiceError(errno.EPROTO, f"{where}: job id {jobid} is out of range")


def _check_path(path: str, where: str) -> None:
    parts = path.split(".")
    if not path or any(not p for p in parts):
        raise ServiceError(errno.EPROTO, f"{where}: invalid job key {path!r}")
