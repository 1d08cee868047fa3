"""R version 1 (RFC 20): parse, validate, combine and encode resource sets.

An R object describes resources by broker rank::

    {"version": 1,
     "execution": {"R_lite": [{"rank": "0-3", "children": {"core": "0-3", "gpu": "0"}}],
                   "nodelist": ["node[0-3]"], "properties": {"big": "2-3"},
                   "starttime": 0.0, "expiration": 0.0},
     "scheduling": {...}}

``rank`` and every child are RFC 22 idsets, ``nodelist`` holds RFC 29
hostlists naming the ranks in ascending rank order, ``properties`` maps a
name to the ranks that have it.  ``scheduling`` is opaque (Fluxion's JGF).

:class:`ResourceSet` mirrors ``flux.resource.ResourceSet``: counts
(``nnodes``, ``ncores``, ``ngpus``), ``ranks``, ``nodelist``,
``properties``, set operators ``| & -``, ``copy_ranks``,
``copy_constraint`` (RFC 31) and ``encode()``/``dumps()`` which write R the
way flux-core does (ranks with identical children merged into one
``R_lite`` entry, times as floats, ``nodelist`` only when hostnames are
known).  Everything here is pure; bad input raises :class:`RvError` naming
the field.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any

from fluxlab.resource._rv1_values import (
    MAX_IDS,
    RvError,
    _check_property,
    _cpu_ids,
    _ids,
    _idstr,
    _time,
    hostlist_within_limit,
    safe_idset,
)
from fluxlab.resource.hostlist import Hostlist, HostlistError
from fluxlab.resource.idset import IDSET_INVALID_ID, IDset

__all__ = ["MAX_IDS", "ResourceSet", "RvError", "Rv1Set", "hostlist_within_limit", "safe_idset"]


class ResourceSet:
    """A set of resources keyed by rank (``flux.resource.ResourceSet``).

    Parameters
    ----------
    arg : None, str, mapping or ResourceSet
        Nothing (empty set), R as JSON text, R as a decoded object, or a set
        to copy.
    version : int
        Only version 1 exists.

    Notes
    -----
    Invariant: every rank in the set has at least one child resource entry
    (possibly empty only when parsed that way); operations drop ranks left
    with no resources.  ``state`` is a free label used by listings.
    """

    def __init__(
        self, arg: None | str | Mapping | ResourceSet = None, version: int = 1, **kwargs: Any
    ):
        if version != 1:
            raise RvError(f"version: unsupported R version {version!r}")
        self._nodes: dict[int, dict[str, frozenset[int]]] = {}
        self._hosts: dict[int, str] = {}
        self._props: dict[str, frozenset[int]] = {}
        self.starttime = 0.0
        self.expiration = 0.0
        self.nslots: int | None = None
        self.scheduling: Any = None
        self.state: str | None = kwargs.pop("state", None)
        if kwargs:
            raise TypeError(f"unexpected keyword argument(s): {', '.join(sorted(kwargs))}")
        if isinstance(arg, ResourceSet):
            self._copy_from(arg)
        elif isinstance(arg, str):
            try:
                obj = json.loads(arg)
            except (ValueError, RecursionError) as exc:
                raise RvError(f"R: invalid JSON: {exc}") from None
            self._parse(obj)
        elif isinstance(arg, Mapping):
            self._parse(arg)
        elif arg is not None:
            raise RvError(f"R must be a JSON string or mapping, not {type(arg).__name__}")

    # -- parsing -------------------------------------------------------------
    def _copy_from(self, other: ResourceSet) -> None:
        self._nodes = {r: dict(c) for r, c in other._nodes.items()}
        self._hosts = dict(other._hosts)
        self._props = dict(other._props)
        self.starttime, self.expiration = other.starttime, other.expiration
        self.nslots, self.scheduling = other.nslots, other.scheduling
        self.state = other.state

    def _parse(self, obj: Any) -> None:
        if not isinstance(obj, Mapping):
            raise RvError("R: must be an object")
        if obj.get("version") != 1 or isinstance(obj.get("version"), bool):
            raise RvError(f"version: must be 1, not {obj.get('version')!r}")
        extra = set(obj) - {"version", "execution", "scheduling"}
        if extra:
            raise RvError(f"R: unknown key(s) {', '.join(sorted(map(str, extra)))}")
        ex = obj.get("execution")
        if not isinstance(ex, Mapping):
            raise RvError("execution: missing or not an object")
        lite = ex.get("R_lite")
        if not isinstance(lite, list):
            raise RvError("execution.R_lite: missing or not a list")
        for i, entry in enumerate(lite):
            where = f"execution.R_lite[{i}]"
            if not isinstance(entry, Mapping):
                raise RvError(f"{where}: must be an object")
            ranks = _ids(entry.get("rank"), f"{where}.rank")
            children = entry.get("children")
            if not isinstance(children, Mapping):
                raise RvError(f"{where}.children: missing or not an object")
            kids = {}
            for ctype, ids in children.items():
                if not isinstance(ctype, str) or not ctype:
                    raise RvError(f"{where}.children: resource types must be non-empty strings")
                kids[ctype] = _ids(ids, f"{where}.children.{ctype}")
            for rank in ranks:
                if rank in self._nodes:
                    raise RvError(f"{where}.rank: rank {rank} appears in more than one entry")
                self._nodes[rank] = dict(kids)
            if len(self._nodes) > MAX_IDS:
                raise RvError(f"execution.R_lite: more than {MAX_IDS} ranks")
        nodelist = ex.get("nodelist")
        if nodelist is not None:
            if not isinstance(nodelist, list) or not all(isinstance(h, str) for h in nodelist):
                raise RvError("execution.nodelist: must be a list of hostlist strings")
            hosts: list[str] = []
            for j, text in enumerate(nodelist):
                if not hostlist_within_limit(text):
                    raise RvError(f"execution.nodelist[{j}]: more than {MAX_IDS} hosts")
                try:
                    hosts.extend(Hostlist(text))
                except HostlistError as exc:
                    raise RvError(f"execution.nodelist[{j}]: {exc}") from None
                if len(hosts) > MAX_IDS:
                    raise RvError(f"execution.nodelist: more than {MAX_IDS} hosts")
            if hosts and len(hosts) != len(self._nodes):
                raise RvError(
                    f"execution.nodelist: {len(hosts)} hosts for {len(self._nodes)} ranks"
                )
            self._hosts = dict(zip(sorted(self._nodes), hosts, strict=False))
        props = ex.get("properties")
        if props is not None:
            if not isinstance(props, Mapping):
                raise RvError("execution.properties: must be an object")
            for name, ids in props.items():
                _check_property(name, "execution.properties")
                ranks = _ids(ids, f"execution.properties.{name}")
                unknown = ranks - self._nodes.keys()
                if unknown:
                    raise RvError(
                        f"execution.properties.{name}: ranks {_idstr(unknown)} are not in R_lite"
                    )
                if ranks:
                    self._props[name] = ranks
        self.starttime = _time(ex.get("starttime", 0.0), "execution.starttime")
        self.expiration = _time(ex.get("expiration", 0.0), "execution.expiration")
        nslots = ex.get("nslots")
        if nslots is not None:
            if isinstance(nslots, bool) or not isinstance(nslots, int) or nslots < 0:
                raise RvError("execution.nslots: must be a non-negative integer")
            self.nslots = nslots
        self.scheduling = obj.get("scheduling")

    # -- builders ------------------------------------------------------------
    @classmethod
    def from_nodes(
        cls,
        nodes: Iterable[tuple[int, str | None, Any, Any]],
        properties: Mapping[str, Iterable[int] | str] | None = None,
        starttime: float = 0.0,
        expiration: float = 0.0,
    ) -> ResourceSet:
        """Build R for (fake) nodes given as ``(rank, hostname, cores, gpus)``.

        ``cores``/``gpus`` are a count (ids 0..n-1), an idset string or an
        iterable of ids; ``hostname`` may be None only if every one is.
        """
        rs = cls()
        named = []
        for i, node in enumerate(nodes):
            try:
                rank, host, cores, gpus = node
            except (TypeError, ValueError):
                raise RvError(f"nodes[{i}]: expected (rank, hostname, cores, gpus)") from None
            if isinstance(rank, bool) or not isinstance(rank, int) or rank < 0:
                raise RvError(f"nodes[{i}].rank: must be a non-negative integer")
            if rank in rs._nodes:
                raise RvError(f"nodes[{i}].rank: rank {rank} given twice")
            kids = {"core": _cpu_ids(cores, f"nodes[{i}].cores")}
            gpu_ids = _cpu_ids(gpus or 0, f"nodes[{i}].gpus")
            if gpu_ids:
                kids["gpu"] = gpu_ids
            rs._nodes[rank] = kids
            if host is not None:
                if not isinstance(host, str) or not host or "," in host or "[" in host:
                    raise RvError(f"nodes[{i}].hostname: must be a plain host name")
                rs._hosts[rank] = host
                named.append(rank)
        if named and len(named) != len(rs._nodes):
            raise RvError("nodes: give a hostname for every node or for none")
        for name, ranks in (properties or {}).items():
            _check_property(name, "properties")
            ids = (
                _ids(ranks, f"properties.{name}")
                if isinstance(ranks, str)
                else _cpu_ids(list(ranks), f"properties.{name}")
            )
            if ids - rs._nodes.keys():
                raise RvError(
                    f"properties.{name}: ranks {_idstr(ids - rs._nodes.keys())} are not nodes"
                )
            if ids:
                rs._props[name] = frozenset(ids)
        rs.starttime = _time(starttime, "starttime")
        rs.expiration = _time(expiration, "expiration")
        return rs

    # -- queries -------------------------------------------------------------
    @property
    def ranks(self) -> IDset:
        return IDset(sorted(self._nodes))

    @property
    def nnodes(self) -> int:
        return len(self._nodes)

    def count(self, rtype: str) -> int:
        """Total number of child resources of ``rtype`` (``core``, ``gpu``...)."""
        return sum(len(kids.get(rtype, ())) for kids in self._nodes.values())

    @property
    def ncores(self) -> int:
        return self.count("core")

    @property
    def ngpus(self) -> int:
        return self.count("gpu")

    @property
    def nodelist(self) -> Hostlist:
        """Hostnames in rank order (empty when R names no hosts)."""
        return Hostlist([self._hosts[r] for r in sorted(self._nodes) if r in self._hosts])

    def hostname(self, rank: int) -> str | None:
        return self._hosts.get(rank)

    def children(self, rank: int) -> dict[str, frozenset[int]]:
        """Child resources of one rank (``{"core": ..., "gpu": ...}``)."""
        if rank not in self._nodes:
            raise RvError(f"rank {rank} is not in this resource set")
        return dict(self._nodes[rank])

    def per_rank(self) -> dict[int, dict[str, int]]:
        """Counts per rank: ``{rank: {"core": n, "gpu": m}}``."""
        return {
            r: {t: len(ids) for t, ids in kids.items()} for r, kids in sorted(self._nodes.items())
        }

    def property_ranks(self) -> dict[str, IDset]:
        return {name: IDset(sorted(r)) for name, r in sorted(self._props.items())}

    def get_properties(self) -> str:
        """Properties as JSON ``{"name": "idset", ...}`` (names sorted)."""
        return json.dumps({n: _idstr(r) for n, r in sorted(self._props.items())})

    @property
    def properties(self) -> str:
        """Comma-separated property names present in this set."""
        return ",".join(sorted(self._props))

    def host_ranks(self, hosts: str | Iterable[str], ignore_nomatch: bool = False) -> list[int]:
        """Ranks of ``hosts`` (a hostlist), in hostlist order."""
        by_host: dict[str, int] = {}
        for rank in sorted(self._nodes):
            if rank in self._hosts:
                by_host.setdefault(self._hosts[rank], rank)
        if isinstance(hosts, str) and not hostlist_within_limit(hosts):
            raise RvError(f"hostlist {hosts[:40]!r}: more than {MAX_IDS} hosts")
        try:
            wanted = Hostlist(hosts)
        except HostlistError as exc:
            raise RvError(str(exc)) from None
        out = []
        for host in wanted:
            if host in by_host:
                out.append(by_host[host])
            elif not ignore_nomatch:
                raise RvError(f"host {host!r} is not in this resource set")
        return out

    @property
    def rlist(self) -> str:
        """Short text form, e.g. ``rank[0-3]/core[0-3],gpu0``."""
        parts = []
        for ranks, kids in self._groups():
            rs = _idstr(ranks)
            rtext = f"rank{rs}" if len(ranks) == 1 else f"rank[{rs}]"
            ktext = ",".join(
                f"{t}{_idstr(ids)}" if len(ids) == 1 else f"{t}[{_idstr(ids)}]"
                for t, ids in self._ordered(kids)
                if ids
            )
            parts.append(f"{rtext}/{ktext}")
        return " ".join(parts)

    # -- set operations -------------------------------------------------------
    def _derive(
        self, nodes: dict[int, dict[str, frozenset[int]]], other: ResourceSet | None = None
    ) -> ResourceSet:
        out = ResourceSet()
        out._nodes = nodes
        hosts = {**(other._hosts if other else {}), **self._hosts}
        out._hosts = {r: hosts[r] for r in nodes if r in hosts}
        props: dict[str, frozenset[int]] = {}
        for src in (self, other) if other else (self,):
            for name, ranks in src._props.items():
                props[name] = props.get(name, frozenset()) | (ranks & nodes.keys())
        out._props = {n: r for n, r in props.items() if r}
        out.starttime = self.starttime or (other.starttime if other else 0.0)
        out.expiration = self.expiration or (other.expiration if other else 0.0)
        out.state = self.state
        return out

    @staticmethod
    def _as_set(other: Any) -> ResourceSet:
        if isinstance(other, ResourceSet):
            return other
        return ResourceSet(other)

    def union(self, other: ResourceSet | str | Mapping) -> ResourceSet:
        other = self._as_set(other)
        nodes = {r: dict(k) for r, k in self._nodes.items()}
        for rank, kids in other._nodes.items():
            mine = nodes.setdefault(rank, {})
            for t, ids in kids.items():
                mine[t] = mine.get(t, frozenset()) | ids
        return self._derive(nodes, other)

    def difference(self, other: ResourceSet | str | Mapping) -> ResourceSet:
        other = self._as_set(other)
        nodes = {}
        for rank, kids in self._nodes.items():
            theirs = other._nodes.get(rank, {})
            left = {t: ids - theirs.get(t, frozenset()) for t, ids in kids.items()}
            left = {t: ids for t, ids in left.items() if ids}
            if left or (rank not in other._nodes):
                nodes[rank] = left
        return self._derive(nodes)

    def intersect(self, other: ResourceSet | str | Mapping) -> ResourceSet:
        other = self._as_set(other)
        nodes = {}
        for rank, kids in self._nodes.items():
            if rank not in other._nodes:
                continue
            theirs = other._nodes[rank]
            both = {
                t: ids & theirs[t] for t, ids in kids.items() if t in theirs and ids & theirs[t]
            }
            if both:
                nodes[rank] = both
        return self._derive(nodes)

    __or__ = union
    __sub__ = difference
    __and__ = intersect

    def add(self, other: ResourceSet | str | Mapping) -> ResourceSet:
        """Union in place; returns self."""
        result = self.union(other)
        state = self.state
        self._copy_from(result)
        self.state = state
        return self

    def copy(self) -> ResourceSet:
        return ResourceSet(self)

    def copy_ranks(self, ranks: IDset | str | Iterable[int] | int) -> ResourceSet:
        """The subset on ``ranks``."""
        if isinstance(ranks, int) and not isinstance(ranks, bool):
            wanted = {ranks}
        elif isinstance(ranks, str):
            wanted = set(_ids(ranks, "ranks"))
        else:
            wanted = set(ranks)
        return self._derive({r: dict(k) for r, k in self._nodes.items() if r in wanted})

    def remove_ranks(self, ranks: IDset | str | Iterable[int] | int) -> ResourceSet:
        """Drop ``ranks`` in place; returns self."""
        keep = self.ranks - IDset(ranks if not isinstance(ranks, int) else [ranks])
        result = self.copy_ranks(keep)
        state = self.state
        self._copy_from(result)
        self.state = state
        return self

    def _match(self, constraint: Any, rank: int, where: str = "constraint") -> bool:
        if not isinstance(constraint, Mapping):
            raise RvError(f"{where}: must be an object")
        result = True
        for op, args in constraint.items():
            if not isinstance(args, list):
                raise RvError(f"{where}.{op}: must be a list")
            if op == "properties":
                for name in args:
                    if not isinstance(name, str) or not name:
                        raise RvError(f"{where}.properties: names must be non-empty strings")
                    neg = name.startswith("^")
                    has = rank in self._props.get(name[1:] if neg else name, ())
                    result = result and (has != neg)
            elif op == "hostlist":
                host = self._hosts.get(rank)
                if not all(isinstance(h, str) and hostlist_within_limit(h) for h in args):
                    raise RvError(
                        f"{where}.hostlist: must be hostlist strings of at most {MAX_IDS} hosts"
                    )
                try:
                    result = result and any(host in Hostlist(h) for h in args)
                except (HostlistError, TypeError) as exc:
                    raise RvError(f"{where}.hostlist: {exc}") from None
            elif op == "ranks":
                result = result and any(rank in _ids(r, f"{where}.ranks") for r in args)
            elif op == "and":
                result = result and all(self._match(c, rank, f"{where}.and") for c in args)
            elif op == "or":
                result = result and any(self._match(c, rank, f"{where}.or") for c in args)
            elif op == "not":
                result = result and not all(self._match(c, rank, f"{where}.not") for c in args)
            else:
                raise RvError(f"{where}: unknown constraint operator {op!r}")
        return result

    def copy_constraint(self, constraint: Mapping[str, Any]) -> ResourceSet:
        """The subset of ranks that satisfy an RFC 31 constraint object."""
        return self.copy_ranks(r for r in self._nodes if self._match(constraint, r))

    # -- encoding ---------------------------------------------------------------
    @staticmethod
    def _ordered(kids: Mapping[str, frozenset[int]]) -> list[tuple[str, frozenset[int]]]:
        order = {"core": 0, "gpu": 1}
        return sorted(kids.items(), key=lambda kv: (order.get(kv[0], 2), kv[0]))

    def _groups(self) -> list[tuple[list[int], dict[str, frozenset[int]]]]:
        groups: dict[tuple, list[int]] = {}
        kids_of: dict[tuple, dict] = {}
        for rank in sorted(self._nodes):
            kids = self._nodes[rank]
            key = tuple((t, tuple(sorted(ids))) for t, ids in self._ordered(kids))
            groups.setdefault(key, []).append(rank)
            kids_of[key] = kids
        return [(ranks, kids_of[key]) for key, ranks in groups.items()]

    def to_dict(self) -> dict[str, Any]:
        """R as a JSON-ready dict, key order as flux-core writes it."""
        lite = [
            {"rank": _idstr(ranks), "children": {t: _idstr(ids) for t, ids in self._ordered(kids)}}
            for ranks, kids in self._groups()
        ]
        ex: dict[str, Any] = {"R_lite": lite}
        if self.nslots is not None:
            ex["nslots"] = self.nslots
        ex["starttime"] = float(self.starttime)
        ex["expiration"] = float(self.expiration)
        hosts = self.nodelist
        if len(hosts):
            ex["nodelist"] = [hosts.encode()]
        if self._props:
            ex["properties"] = {n: _idstr(r) for n, r in sorted(self._props.items())}
        out: dict[str, Any] = {"version": 1, "execution": ex}
        if self.scheduling is not None:
            out["scheduling"] = self.scheduling
        return out

    def encode(self) -> str:
        """R as one line of JSON (``", "``/``": "`` separators)."""
        return json.dumps(self.to_dict())

    def dumps(self) -> str:
        """Same as :meth:`encode`."""
        return self.encode()

    def __str__(self) -> str:
        return self.rlist

    def __repr__(self) -> str:
        return f"ResourceSet({self.rlist!r})"

    def _repr_html_(self) -> str:  # notebook display, rendered by fluxlab.jupyter.display
        return __import__("fluxlab.jupyter.display", fromlist=["_"]).repr_html(self)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, ResourceSet):
            return NotImplemented
        return (
            self._nodes == other._nodes
            and self._hosts == other._hosts
            and self._props == other._props
        )

    __hash__ = None  # mutable

    def first_rank(self) -> int:
        """Lowest rank, or IDSET_INVALID_ID when empty (sorting helper)."""
        return min(self._nodes) if self._nodes else IDSET_INVALID_ID


#: Alias matching ``flux.resource.Rv1Set``.
Rv1Set = ResourceSet
