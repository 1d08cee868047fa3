"""Walk the broker tree, asking each reachable rank for its health."""

from __future__ import annotations

from fluxlab.core.errors import FluxError

__all__ = ["walk"]


def walk(h, size: int, timeout: float = 5.0) -> list[dict]:
    """Return one dict per rank: ``{rank, status, hostname, state, parent, depth}``.

    Status is the rank's own view (``full``, ``partial``, ``degraded``) when it
    answered, ``lost``/``offline`` as reported by its parent, or
    ``unreachable`` for ranks below a lost one.
    """
    out: list[dict] = []
    frontier = [(0, None, 0, None)]  # rank, parent, depth, status from parent
    while frontier:
        futs = []
        for rank, parent, depth, pstatus in frontier:
            if pstatus in ("lost", "offline", "unreachable"):
                futs.append((rank, parent, depth, pstatus, None))
            else:
                futs.append((rank, parent, depth, pstatus, h.rpc("overlay.health", nodeid=rank)))
        nxt = []
        for rank, parent, depth, pstatus, fut in futs:
            node = {
                "rank": rank,
                "parent": parent,
                "depth": depth,
                "hostname": "",
                "state": "",
                "duration": 0.0,
            }
            children = _children(rank, size, h)
            if fut is None:
                node["status"] = pstatus
                nxt.extend((c, rank, depth + 1, "unreachable") for c in children)
            else:
                try:
                    r = fut.get(timeout)
                except (FluxError, TimeoutError) as e:
                    node["status"] = "unreachable"
                    node["error"] = str(e)
                    nxt.extend((c, rank, depth + 1, "unreachable") for c in children)
                else:
                    node.update(
                        status=r["status"],
                        hostname=r["hostname"],
                        state=r["state"],
                        duration=r["duration"],
                    )
                    for c in r["children"]:
                        st = c["status"]
                        nxt.append((c["rank"], rank, depth + 1, None if st == "online" else st))
            out.append(node)
        frontier = nxt
    return sorted(out, key=lambda n: n["rank"])


_topo_cache: dict[int, object] = {}


def _children(rank: int, size: int, h) -> list[int]:
    from fluxlab.broker.topology import Topology

    key = id(h)
    topo = _topo_cache.get(key)
    if topo is None or topo.size != size:
        topo = Topology(size, int(h.attr_get("tbon.fanout")))
        _topo_cache[key] = topo
    return topo.children(rank)
