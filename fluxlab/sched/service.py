"""The ``sched`` module: the graph scheduler in the broker (RFC 27).

It builds a :class:`~fluxlab.sched.ResourceQuery` over the instance's
resources (R from ``resource.acquire``, read with the ``rv1exec`` reader, or
a JGF/GRUG graph given with ``graph=PATH``), wraps it in a
:class:`~fluxlab.sched.QueueManager` (queue policy, queue and reservation
depth), and speaks the allocation protocol with the job-manager: hello
(claiming the resources of running jobs), ready, alloc, free, cancel,
prioritize, expiration, plus ``feasibility.check`` and
``sched.resource-status``.  Ranks that go down (or are drained) are drained
in the graph, so they are never allocated.

Options (module arguments, or the ``sched`` table of the instance
configuration, with Fluxion's names): ``policy=first`` (match policy),
``queue-policy=fcfs`` (``easy``, ``conservative``, ``hybrid``),
``queue-depth=32``, ``reservation-depth=64``, ``match-format=rv1_nosched``
(``rv1`` adds the JGF ``scheduling`` key), ``prune-filters=ALL:core,ALL:node``,
``graph=PATH`` and ``graph-format=jgf|grug``.

Swap at run time: ``fluxlab module remove sched; fluxlab module load sched-simple``.
"""

from __future__ import annotations

import errno
import json
import time
from typing import Any

from fluxlab._json import encoder as _json_encoder
from fluxlab.core.errors import FluxError, ServiceError
from fluxlab.core.module import request_handler, unpack
from fluxlab.resource.idset import IDset
from fluxlab.resource.rv1 import ResourceSet
from fluxlab.sched._protocol import ANNOTATE, CANCEL, DENY, SUCCESS, SchedulerModule

__all__ = ["SchedModule", "parse_options"]

_DEFAULTS = {
    "policy": "first",
    "queue-policy": "fcfs",
    "queue-depth": "32",
    "reservation-depth": "64",
    "match-format": "rv1_nosched",
    "prune-filters": "ALL:core,ALL:node",
    "graph": "",
    "graph-format": "jgf",
}
_INTS = ("queue-depth", "reservation-depth")


def parse_options(args: list[str], conf: dict | None) -> dict[str, Any]:
    """Merge defaults, the ``sched`` config table and ``key=value`` arguments.

    Raises
    ------
    ValueError
        Naming the option for an unknown key or a bad value.
    """
    opts: dict[str, Any] = dict(_DEFAULTS)
    table = (conf or {}).get("sched") or {}
    if not isinstance(table, dict):
        raise ValueError("sched: configuration 'sched' must be a table")
    items = [(str(k), str(v)) for k, v in table.items()]
    for arg in args:
        key, sep, value = arg.partition("=")
        if not sep:
            raise ValueError(f"sched: argument {arg!r} is not KEY=VALUE")
        items.append((key, value))
    for key, value in items:
        if key not in _DEFAULTS:
            raise ValueError(
                f"sched: unknown option {key!r} (known: {', '.join(sorted(_DEFAULTS))})"
            )
        opts[key] = value
    for key in _INTS:
        try:
            opts[key] = int(opts[key])
        except ValueError:
            raise ValueError(f"sched: {key} must be an integer, not {opts[key]!r}") from None
    from fluxlab.sched.queue import QUEUE_POLICIES

    if opts["queue-policy"] not in QUEUE_POLICIES:
        raise ValueError(
            f"sched: queue-policy must be one of {', '.join(QUEUE_POLICIES)}, "
            f"not {opts['queue-policy']!r}"
        )
    if opts["queue-depth"] < 1 or opts["reservation-depth"] < 0:
        raise ValueError("sched: queue-depth must be >= 1 and reservation-depth >= 0")
    if opts["match-format"] not in ("rv1", "rv1_nosched"):
        raise ValueError("sched: match-format must be rv1 or rv1_nosched")
    return opts


_dumps = _json_encoder()


class _CachingMatcher:
    """A :class:`ResourceQuery` front that memoises per-jobspec work.

    Bulk submissions hand the scheduler thousands of identical jobspecs, so
    the Fluxion parse (a YAML compose, ~1 ms) and the satisfiability answer
    are computed once per jobspec and graph version.  In the broker's process
    the jobspecs are the very same dict object, shared from job-ingest's
    validation cache, and are found by ``id()`` (entries keep their jobspec
    alive, so an ``id()`` is never reused while it is a key).  A scheduler in
    a module process decodes a new dict per request; those are found by
    their JSON text (same submission, same key order, same text).
    """

    def __init__(self, rq, size: int = 256):
        self.rq = rq
        self.size = size
        self._parsed: dict[int, tuple[Any, Any]] = {}
        self._by_text: dict[str, Any] = {}
        self._sat: dict[tuple[int, int], Any] = {}

    def __getattr__(self, name: str):
        return getattr(self.rq, name)

    def _remember(self, table: dict, key, value) -> None:
        if len(table) >= self.size:
            table.pop(next(iter(table)))
        table[key] = value

    def parse(self, jobspec):
        from fluxlab.sched.jobspec import Jobspec

        if isinstance(jobspec, Jobspec):
            return jobspec
        hit = self._parsed.get(id(jobspec))
        if hit is not None and hit[0] is jobspec:
            return hit[1]
        try:
            text = _dumps(jobspec)
        except (TypeError, ValueError):
            text = None  # not JSON: the parser says what is wrong
        parsed = self._by_text.get(text) if text is not None else None
        if parsed is None:
            parsed = self.rq.parse(jobspec)
            if text is not None:
                self._remember(self._by_text, text, parsed)
        self._remember(self._parsed, id(jobspec), (jobspec, parsed))
        return parsed

    def match(self, op, jobspec, *args, **kw):
        if op != "satisfiability":
            return self.rq.match(op, jobspec, *args, **kw)
        key = (id(jobspec), self.rq.graph_version)
        hit = self._sat.get(key)
        if hit is not None and hit[0] is jobspec:
            return hit[1]
        res = self.rq.match(op, jobspec, *args, **kw)
        self._remember(self._sat, key, (jobspec, res))
        return res


class SchedModule(SchedulerModule):
    name = "sched"

    def start(self) -> None:
        self.opts = parse_options(self.args, self.h.conf)
        from fluxlab.sched import create_policy

        create_policy(self.opts["policy"])  # fail at load time for a bad policy name
        self.rq = None
        self.qm = None
        self.R_all: dict | None = None
        self.down: set[int] = set()
        self.requests: dict[int, Any] = {}  # jobid -> alloc request message
        self.running: dict[int, dict] = {}  # jobid -> R
        self._pass_scheduled = False
        self.nalloc = 0
        self._acquire_resources()

    def stop(self) -> None:
        self._stop_protocol("the scheduler was unloaded")
        for msg in list(self.requests.values()):
            self.respond_error(msg, errno.ENOSYS, "the scheduler was unloaded")
        self.requests.clear()

    def stats(self) -> dict:
        return {
            "policy": self.opts["policy"],
            "queue-policy": self.opts["queue-policy"],
            "queue-depth": self.opts["queue-depth"],
            "pending": len(self.requests),
            "running": len(self.running),
            "allocations": self.nalloc,
            "down": str(IDset(self.down)),
        }

    # -- resources ------------------------------------------------------------------
    def _on_acquire(self, fut) -> None:
        try:
            resp = fut.get()
        except FluxError as e:
            if e.errno not in (errno.ENODATA, errno.ECANCELED):
                self.log(3, f"resource.acquire failed: {e}")
            return
        fut.reset()
        if "resources" in resp:
            try:
                self._build(resp["resources"])
            except (ValueError, OSError) as e:
                self.log(2, f"cannot build the resource graph: {e}")
                return
            up = set(IDset(resp.get("up", ""))) if resp.get("up") is not None else set(self.ranks())
            self._set_down(set(self.ranks()) - up)
            self._replay_waiting()
            self._say_hello()
            return
        down = set(self.down)
        if resp.get("down"):
            down |= set(IDset(resp["down"]))
        if resp.get("up"):
            down -= set(IDset(resp["up"]))
        self._set_down(down)
        self._kick()

    def ranks(self) -> list[int]:
        return list(ResourceSet(self.R_all).ranks) if self.R_all else []

    def _build(self, R: dict) -> None:
        from fluxlab.sched import QueueManager, ResourceQuery

        o = self.opts
        if o["graph"]:
            with open(o["graph"]) as f:
                text = f.read()
            fmt = o["graph-format"]
        elif isinstance(R.get("scheduling"), dict) and R["scheduling"].get("graph"):
            text, fmt = json.dumps(R["scheduling"]), "jgf"
        else:
            text, fmt = json.dumps(R), "rv1exec"
        self.rq = _CachingMatcher(
            ResourceQuery(
                text,
                load_format=fmt,
                policy=o["policy"],
                match_format=o["match-format"],
                prune_filters=o["prune-filters"],
            )
        )
        self.qm = QueueManager(
            o["queue-policy"],
            self.rq,
            queue_depth=o["queue-depth"],
            reservation_depth=o["reservation-depth"],
            fmt=o["match-format"],
        )
        self.R_all = R
        self.down = set()
        # the graph is large and long-lived: keep it out of the cyclic
        # collector's full passes (which otherwise show up as ~100 ms pauses)
        import gc

        gc.freeze()

    def _set_down(self, down: set[int]) -> None:
        if self.rq is None:
            return
        known = set(self.ranks())
        down &= known
        for rank in sorted(down - self.down):
            try:
                self.rq.drain(str(rank), "down")
            except ValueError as e:
                self.log(4, f"rank {rank}: cannot mark down: {e}")
        for rank in sorted(self.down - down):
            try:
                self.rq.undrain(str(rank))
            except ValueError as e:
                self.log(4, f"rank {rank}: cannot mark up: {e}")
        self.down = down

    def _ready_payload(self) -> dict:
        return {"mode": "unlimited"}

    def _claim(self, jobid: int, R: Any) -> None:
        """Mark a running job's R (from hello) allocated in the graph."""
        try:
            rs = ResourceSet(R)
        except ValueError as e:
            self.log(3, f"job {jobid}: unreadable R from hello: {e}")
            return
        now = int(time.time())
        start = int(rs.starttime or now)
        duration = max(1, int((rs.expiration or 0) - start)) if rs.expiration else 0
        res = self.rq.update("allocate", "rv1exec", json.dumps(R), jobid, 0, duration)
        if not res.matched:
            self.log(3, f"job {jobid}: could not claim its resources: {res.error.strip()}")
            return
        self.running[jobid] = R
        self.qm._running[jobid] = None

    # -- protocol -----------------------------------------------------------------------
    def _need_graph(self, fn, msg) -> bool:
        if self.rq is not None:
            return False
        self._defer_until_resources(fn, msg)
        return True

    @request_handler("feasibility.check")
    def feasibility(self, msg):
        (jobspec,) = unpack(msg, ("jobspec", dict))
        if self._need_graph(self.feasibility, msg):
            return None
        try:
            parsed = self.rq.parse(jobspec)
        except ValueError as e:
            raise ServiceError(
                errno.EINVAL, f"jobspec not understood by the scheduler: {e}"
            ) from None
        res = self.rq.match("satisfiability", parsed, jobid=0, at=0)
        if res.error:
            raise ServiceError(
                errno.EINVAL, res.error.strip().removeprefix("match_allocate: ERROR: ")
            )
        if not res.satisfiable:
            raise ServiceError(errno.EOVERFLOW, "the instance can never provide these resources")
        return {}

    @request_handler("alloc", streaming=True)
    def alloc(self, msg):
        jobid, priority, t_submit, jobspec = unpack(
            msg,
            ("id", int),
            ("priority", int, 16),
            ("t_submit", (int, float), 0.0),
            ("jobspec", dict),
        )
        if self._need_graph(self.alloc, msg):
            return None
        if jobid in self.requests:
            raise ServiceError(errno.EEXIST, f"job {jobid} already has an alloc request")
        self.requests[jobid] = msg
        try:
            jobspec = self.rq.parse(jobspec)
        except ValueError:
            pass  # the queue manager denies it with the parser's message
        self._apply(self.qm.submit(jobid, priority, jobspec, t_submit))
        self._kick()
        return None

    @request_handler("cancel")
    def cancel(self, msg):
        (jobid,) = unpack(msg, ("id", int))
        if self.qm is not None:
            self._apply(self.qm.cancel(jobid))
            self._kick()

    @request_handler("free")
    def free(self, msg):
        (jobid,) = unpack(msg, ("id", int))
        if self.running.pop(jobid, None) is None or self.qm is None:
            return
        from fluxlab.sched.errors import SchedError

        try:
            self.qm.free(jobid)
        except SchedError as e:
            self.log(4, f"free of job {jobid}: {e}")
        self._kick()

    @request_handler("prioritize")
    def prioritize(self, msg):
        (jobs,) = unpack(msg, ("jobs", list))
        pairs = [(int(j[0]), int(j[1])) for j in jobs if isinstance(j, list) and len(j) == 2]
        if self.qm is not None:
            self.qm.prioritize(pairs)
            self._kick()

    @request_handler("resource-status")
    def resource_status(self, msg):
        if self.R_all is None:
            if self._need_graph(self.resource_status, msg):
                return None
        full = ResourceSet(self.R_all)
        allocated = ResourceSet()
        for R in self.running.values():
            allocated = allocated.union(ResourceSet(R))
        return {
            "all": self.R_all,
            "allocated": full.intersect(allocated).to_dict(),
            "down": full.copy_ranks(sorted(self.down)).to_dict(),
        }

    # -- scheduling loop ---------------------------------------------------------------
    def _kick(self) -> None:
        if not self._pass_scheduled and self.qm is not None:
            self._pass_scheduled = True
            self.h.reactor.call_soon(self._pass)

    def _pass(self) -> None:
        self._pass_scheduled = False
        self._apply(self.qm.schedule(int(time.time())))
        if self.qm.more:  # queue-depth cut the pass short with resources maybe free
            self._kick()

    def _apply(self, decisions) -> None:
        allocated: list[tuple[int, dict, dict | None, Any]] = []  # answered after the others
        for d in decisions:
            msg = self.requests.get(d.jobid)
            if msg is None:
                continue
            if d.kind == "alloc":
                del self.requests[d.jobid]
                R = self._finish_R(d.R, msg)
                self.running[d.jobid] = R
                self.nalloc += 1
                allocated.append((d.jobid, R, d.annotations, msg))
            elif d.kind == "annotate":
                self.respond(msg, {"id": d.jobid, "type": ANNOTATE, "annotations": d.annotations})
            elif d.kind == "deny":
                del self.requests[d.jobid]
                self.respond(msg, {"id": d.jobid, "type": DENY, "note": d.note})
            elif d.kind == "cancel":
                del self.requests[d.jobid]
                self.respond(msg, {"id": d.jobid, "type": CANCEL})
        self._answer_allocs(allocated)

    @staticmethod
    def _finish_R(R: dict, msg) -> dict:
        """Stamp R with the real start and time limit.

        The planner counts whole seconds; the job starts now, and its
        expiration is now + duration exactly (0 = unlimited, as in Flux).
        """
        R = dict(R)
        execution = dict(R.get("execution", {}))
        try:
            duration = float(msg.payload["jobspec"]["attributes"]["system"].get("duration", 0))
        except (KeyError, TypeError, AttributeError, ValueError):
            duration = 0.0
        now = time.time()
        execution["starttime"] = now
        execution["expiration"] = now + duration if duration > 0 else 0
        R["execution"] = execution
        return R

    def _answer_allocs(self, batch: list[tuple[int, dict, dict | None, Any]]) -> None:
        """Answer SUCCESS with R inline; the job-manager stores R in the KVS in
        the same transaction as the job's ``alloc`` event (as flux-core does)."""
        for jobid, R, ann, msg in batch:
            out = {"id": jobid, "type": SUCCESS, "R": R}
            if ann:
                out["annotations"] = ann
            self.respond(msg, out)
