"""``sched-simple``: a first-fit scheduler over cores and GPUs (RFC 27).

The default scheduler until the graph scheduler is loaded, and the fallback
anyone can swap in (``fluxlab module load sched-simple``).  It keeps, per
rank, the sets of free core and GPU ids, fills requests in rank order
(first fit), and serves its queue in priority order without backfill: when
the first pending request does not fit, later ones wait too (FCFS).

Resources come from the ``resource`` module's ``resource.acquire`` stream
(RFC 28); ranks reported down are never allocated.  SUCCESS carries R
inline; the job-manager stores it in ``job.<id>.R`` with the ``alloc`` event.
"""

from __future__ import annotations

import errno
import time
from typing import Any

from fluxlab.core.errors import FluxError, ServiceError
from fluxlab.core.module import request_handler, unpack
from fluxlab.job.jj import JJError, jj_get_counts
from fluxlab.resource.idset import IDset
from fluxlab.resource.rv1 import ResourceSet
from fluxlab.sched._protocol import CANCEL, DENY, SUCCESS, SchedulerModule

__all__ = ["SchedSimple"]


class _Rank:
    __slots__ = ("cores", "free_cores", "free_gpus", "gpus", "host", "rank", "up")

    def __init__(self, rank: int, host: str, cores: frozenset[int], gpus: frozenset[int]):
        self.rank, self.host = rank, host
        self.cores, self.gpus = cores, gpus
        self.free_cores = set(cores)
        self.free_gpus = set(gpus)
        self.up = True


class _Request:
    __slots__ = ("counts", "id", "msg", "priority", "t_submit")

    def __init__(self, msg, jobid: int, priority: int, t_submit: float, counts):
        self.msg, self.id, self.priority, self.t_submit, self.counts = (
            msg,
            jobid,
            priority,
            t_submit,
            counts,
        )


class SchedSimple(SchedulerModule):
    name = "sched-simple"

    def start(self) -> None:
        self.ranks: dict[int, _Rank] = {}
        self.R_all: dict | None = None
        self.queue: list[_Request] = []
        self.allocs: dict[int, list[tuple[int, frozenset[int], frozenset[int]]]] = {}
        self.queue_depth = 8
        for arg in self.args:
            k, _, v = arg.partition("=")
            if k == "queue-depth":
                try:
                    self.queue_depth = int(v)
                except ValueError:
                    raise ValueError(
                        f"sched-simple: queue-depth must be an integer, not {v!r}"
                    ) from None
        if self.queue_depth < 1:
            raise ValueError("sched-simple: queue-depth must be at least 1")
        self._allocated_now: list[tuple[_Request, dict]] = []
        self._answer_scheduled = False
        self.stats_alloc = 0
        self._acquire_resources()

    def stop(self) -> None:
        self._stop_protocol("scheduler unloaded")
        for req in self.queue:
            self.respond_error(req.msg, errno.ENOSYS, "scheduler unloaded")
        self.queue = []

    def stats(self) -> dict:
        free = sum(len(r.free_cores) for r in self.ranks.values())
        return {
            "pending": len(self.queue),
            "allocated_jobs": len(self.allocs),
            "free_cores": free,
            "allocations": self.stats_alloc,
        }

    # -- resources (RFC 28) ---------------------------------------------------------
    def _on_acquire(self, fut) -> None:
        try:
            resp = fut.get()
        except FluxError as e:
            if e.errno != errno.ENODATA:
                self.log(3, f"resource.acquire failed: {e}")
            return
        fut.reset()
        if "resources" in resp:
            self._set_resources(resp["resources"])
            self._replay_waiting()
            for rank in IDset(resp.get("up", "")) if resp.get("up") is not None else []:
                if rank in self.ranks:
                    self.ranks[rank].up = True
            if "up" in resp:
                up = set(IDset(resp["up"]))
                for r in self.ranks.values():
                    r.up = r.rank in up
            self._say_hello()
            return
        for key, up in (("up", True), ("down", False)):
            if resp.get(key):
                for rank in IDset(resp[key]):
                    if rank in self.ranks:
                        self.ranks[rank].up = up
        self._schedule()

    def _set_resources(self, R: dict) -> None:
        rs = ResourceSet(R)
        self.R_all = rs.to_dict()
        self.ranks = {}
        for rank in rs.ranks:
            kids = rs.children(rank)
            self.ranks[rank] = _Rank(
                rank,
                rs.hostname(rank) or f"rank{rank}",
                frozenset(kids.get("core", ())),
                frozenset(kids.get("gpu", ())),
            )

    def _ready_payload(self) -> dict:
        return {"mode": "limited", "limit": self.queue_depth}

    def _claim(self, jobid: int, R: Any) -> None:
        """Mark a job's R (from hello) as allocated."""
        try:
            rs = ResourceSet(R)
        except ValueError as e:
            self.log(3, f"job {jobid}: ignoring unreadable R from hello: {e}")
            return
        parts = []
        for rank in rs.ranks:
            node = self.ranks.get(rank)
            if node is None:
                continue
            kids = rs.children(rank)
            cores = frozenset(kids.get("core", ())) & node.cores
            gpus = frozenset(kids.get("gpu", ())) & node.gpus
            node.free_cores -= cores
            node.free_gpus -= gpus
            parts.append((rank, cores, gpus))
        self.allocs[jobid] = parts

    # -- matching ------------------------------------------------------------------------
    def _counts(self, jobspec: Any):
        try:
            c = jj_get_counts(jobspec)
        except JJError as e:
            raise ServiceError(errno.EINVAL, f"unsupported jobspec: {e}") from None
        if c.nslots < 1 or c.slot_size < 1:
            raise ServiceError(errno.EINVAL, "jobspec must request at least one slot with one core")
        return c

    def _fit(self, c, free: bool = True):
        """Choose resources for counts ``c``; None when they do not fit now."""
        nodes = [r for r in sorted(self.ranks.values(), key=lambda r: r.rank) if r.up or not free]
        if c.nnodes:
            if c.nslots % c.nnodes:
                return None
            per = c.nslots // c.nnodes
            need_c, need_g = per * c.slot_size, per * c.slot_gpus
            chosen = []
            for r in nodes:
                fc = r.free_cores if free else r.cores
                fg = r.free_gpus if free else r.gpus
                if c.exclusive or c.nnodes:
                    whole = (not free) or (
                        len(r.free_cores) == len(r.cores) and len(r.free_gpus) == len(r.gpus)
                    )
                    if c.exclusive and not whole:
                        continue
                if len(fc) >= need_c and len(fg) >= need_g:
                    if c.exclusive:
                        chosen.append((r.rank, frozenset(r.cores), frozenset(r.gpus)))
                    else:
                        chosen.append(
                            (r.rank, frozenset(sorted(fc)[:need_c]), frozenset(sorted(fg)[:need_g]))
                        )
                    if len(chosen) == c.nnodes:
                        return chosen
            return None
        chosen = []
        left = c.nslots
        for r in nodes:
            fc = sorted(r.free_cores if free else r.cores)
            fg = sorted(r.free_gpus if free else r.gpus)
            fit = len(fc) // c.slot_size
            if c.slot_gpus:
                fit = min(fit, len(fg) // c.slot_gpus)
            n = min(fit, left)
            if n:
                chosen.append(
                    (r.rank, frozenset(fc[: n * c.slot_size]), frozenset(fg[: n * c.slot_gpus]))
                )
                left -= n
                if not left:
                    return chosen
        return None

    # -- protocol --------------------------------------------------------------------
    @request_handler("feasibility.check")
    def feasibility(self, msg):
        (jobspec,) = unpack(msg, ("jobspec", dict))
        c = self._counts(jobspec)
        if self.R_all is None:  # answer once resources are known
            self._defer_until_resources(self.feasibility, msg)
            return None
        if self._fit(c, free=False) is None:
            total = sum(len(r.cores) for r in self.ranks.values())
            gpus = sum(len(r.gpus) for r in self.ranks.values())
            raise ServiceError(
                errno.EOVERFLOW,
                f"request needs {c.nnodes or 'any'} nodes, {c.nslots} slots "
                f"of {c.slot_size} cores/{c.slot_gpus} gpus; the instance "
                f"has {len(self.ranks)} nodes, {total} cores, {gpus} gpus",
            )
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
        try:
            counts = self._counts(jobspec)
        except ServiceError as e:
            self.respond(msg, {"id": jobid, "type": DENY, "note": str(e)})
            return
        self.queue.append(_Request(msg, jobid, priority, t_submit, counts))
        self.queue.sort(key=lambda r: (-r.priority, r.t_submit, r.id))
        self._schedule()

    @request_handler("cancel")
    def cancel(self, msg):
        (jobid,) = unpack(msg, ("id", int))
        for i, req in enumerate(self.queue):
            if req.id == jobid:
                del self.queue[i]
                self.respond(req.msg, {"id": jobid, "type": CANCEL})
                break
        self._schedule()

    @request_handler("prioritize")
    def prioritize(self, msg):
        (jobs,) = unpack(msg, ("jobs", list))
        prio = {int(j[0]): int(j[1]) for j in jobs if isinstance(j, list) and len(j) == 2}
        for req in self.queue:
            if req.id in prio:
                req.priority = prio[req.id]
        self.queue.sort(key=lambda r: (-r.priority, r.t_submit, r.id))
        self._schedule()

    @request_handler("free")
    def free(self, msg):
        (jobid,) = unpack(msg, ("id", int))
        for rank, cores, gpus in self.allocs.pop(jobid, []):
            node = self.ranks.get(rank)
            if node is not None:
                node.free_cores |= cores
                node.free_gpus |= gpus
        self._schedule()

    @request_handler("resource-status")
    def resource_status(self, msg):
        if self.R_all is None:  # answer once resources are known
            self._defer_until_resources(self.resource_status, msg)
            return None
        full = ResourceSet(self.R_all)
        allocated = [(r, c, g) for parts in self.allocs.values() for r, c, g in parts]
        down = [r.rank for r in self.ranks.values() if not r.up]
        # derived from the full R so hostnames and properties carry over
        alloc_rs = full.intersect(self._rset(allocated)) if allocated else full.copy_ranks([])
        return {
            "all": self.R_all,
            "allocated": alloc_rs.to_dict(),
            "down": full.copy_ranks(down).to_dict(),
        }

    def _rset(self, parts) -> ResourceSet:
        merged: dict[int, tuple[set, set]] = {}
        for rank, cores, gpus in parts:
            c, g = merged.setdefault(rank, (set(), set()))
            c |= cores
            g |= gpus
        return ResourceSet.from_nodes(
            [(r, None, sorted(c), sorted(g)) for r, (c, g) in sorted(merged.items())]
        )

    # -- scheduling loop --------------------------------------------------------------------
    def _schedule(self) -> None:
        while self.queue:
            req = self.queue[0]
            chosen = self._fit(req.counts)
            if chosen is None:
                if self._fit(req.counts, free=False) is None:
                    self.queue.pop(0)
                    self.respond(
                        req.msg,
                        {
                            "id": req.id,
                            "type": DENY,
                            "note": "unsatisfiable request (resources went away)",
                        },
                    )
                    continue
                break
            self.queue.pop(0)
            for rank, cores, gpus in chosen:
                node = self.ranks[rank]
                node.free_cores -= cores
                node.free_gpus -= gpus
            self.allocs[req.id] = chosen
            now = time.time()
            duration = req.counts.duration
            R = ResourceSet.from_nodes(
                [(rank, self.ranks[rank].host, sorted(c), sorted(g)) for rank, c, g in chosen],
                starttime=now,
                expiration=now + duration if duration > 0 else 0.0,
            )
            self._allocated_now.append((req, R.to_dict()))
            self.stats_alloc += 1
        if self._allocated_now and not self._answer_scheduled:
            self._answer_scheduled = True
            self.h.reactor.call_soon(self._answer_allocs)

    def _answer_allocs(self) -> None:
        """Answer SUCCESS with R inline (the job-manager stores R, see ``sched``)."""
        self._answer_scheduled = False
        batch, self._allocated_now = self._allocated_now, []
        for req, R in batch:
            self.respond(
                req.msg,
                {
                    "id": req.id,
                    "type": SUCCESS,
                    "R": R,
                    "annotations": {"sched": {"resource_summary": _summary(R)}},
                },
            )


def _summary(R: dict) -> str:
    parts = []
    for entry in R.get("execution", {}).get("R_lite", []):
        kids = entry.get("children", {})
        s = f"rank{entry['rank']}/core{kids.get('core', '')}"
        if kids.get("gpu"):
            s += f",gpu{kids['gpu']}"
        parts.append(s)
    return " ".join(parts)
