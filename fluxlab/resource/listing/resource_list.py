"""``flux resource list``, ``info`` and ``R`` as pure functions.

Input is the scheduler's resource-list payload: an object whose ``all``,
``down`` and ``allocated`` keys each hold an R object (or null).  ``up`` is
``all - down`` and ``free`` is ``up - allocated``.

``list`` prints one line per state and distinct property set (and queue),
sorted by the order of the requested states and then by first rank; a state
with no resources still gets a zero line unless ``skip_empty``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fluxlab.resource.idset import IDset
from fluxlab.resource.rv1 import ResourceSet, RvError, safe_idset
from fluxlab.util.outputformat import OutputFormat

__all__ = [
    "LIST_FORMATS",
    "LIST_HEADINGS",
    "ListingError",
    "ResourceLine",
    "SchedResourceList",
    "ranks_by_queue",
    "target_ranks",
    "resource_info_text",
    "resource_list_text",
    "resource_R_text",
]

LIST_STATES = ("up", "down", "allocated", "free", "all")

LIST_HEADINGS = {
    "state": "STATE",
    "queue": "QUEUE",
    "properties": "PROPERTIES",
    "propertiesx": "PROPERTIES",
    "nnodes": "NNODES",
    "ncores": "NCORES",
    "ngpus": "NGPUS",
    "ranks": "RANKS",
    "nodelist": "NODELIST",
    "rlist": "LIST",
}

LIST_FORMATS = {
    "default": (
        "{state:>10} ?+:{queue:<5} ?:{propertiesx:<10.10+} {nnodes:>6} "
        "+:{ncores:>6} ?+:{ngpus:>5} {nodelist}"
    ),
    "rlist": (
        "{state:>10} ?+:{queue:<5} ?:{propertiesx:<10.10+} {nnodes:>6} "
        "+:{ncores:>6} ?+:{ngpus:>5} {rlist}"
    ),
}

INFO_FORMAT = "{nnodes} Nodes, {ncores} Cores, {ngpus} GPUs"


class ListingError(ValueError):
    """Bad listing input: unknown state or queue, malformed payload or format."""


def _rset(value: Any, where: str) -> ResourceSet:
    try:
        return ResourceSet(value)
    except RvError as exc:
        raise ListingError(f"{where}: {exc}") from None


class SchedResourceList:
    """The ``all``/``down``/``allocated`` sets plus derived ``up``/``free``
    (``flux.resource.SchedResourceList``)."""

    def __init__(self, resp: Mapping[str, Any] | None):
        if resp is None:
            resp = {}
        if not isinstance(resp, Mapping):
            raise ListingError("resource list payload must be an object")
        for state in ("all", "down", "allocated"):
            rset = _rset(resp.get(state), state)
            rset.state = state
            setattr(self, state, rset)

    @property
    def up(self) -> ResourceSet:
        res = self.all - self.down
        res.state = "up"
        return res

    @property
    def free(self) -> ResourceSet:
        res = self.up - self.allocated
        res.state = "free"
        return res

    def __getitem__(self, state: str) -> ResourceSet:
        if state not in LIST_STATES:
            raise ListingError(
                f"invalid resource state {state!r} (valid: {', '.join(LIST_STATES)})"
            )
        return getattr(self, state)

    def filter(self, ranks: Iterable[int]) -> None:
        """Keep only ``ranks`` in every set."""
        ranks = IDset(ranks)
        for state in ("all", "down", "allocated"):
            rset = getattr(self, state).copy_ranks(ranks)
            rset.state = state
            setattr(self, state, rset)


def ranks_by_queue(rset: ResourceSet, config: Mapping | None, queues: Iterable[str]) -> IDset:
    """Ranks of the named queues: a queue's ``requires`` properties select
    ranks (a queue without ``requires`` has all of them)."""
    conf_queues = (config or {}).get("queues", {}) if isinstance(config, Mapping) else {}
    ranks = IDset()
    for queue in queues:
        if not isinstance(conf_queues, Mapping) or queue not in conf_queues:
            raise ListingError(f"--queue: {queue}: no such queue")
        requires = (
            conf_queues[queue].get("requires") if isinstance(conf_queues[queue], Mapping) else None
        )
        subset = rset.copy_constraint({"properties": list(requires)}) if requires else rset
        ranks.add(subset.ranks)
    return ranks


def target_ranks(rset: ResourceSet, targets: str | Iterable[int]) -> IDset:
    """Ranks named by ``--include``: an idset of ranks, else a hostlist
    (hosts not in ``rset`` are ignored)."""
    try:
        return safe_idset(targets, "--include")
    except RvError:
        try:
            return IDset(rset.host_ranks(targets, ignore_nomatch=True))
        except RvError as exc:
            raise ListingError(f"--include: {exc}") from None


class ResourceLine:
    """One output line of ``flux resource list``: a resource set with its
    state and the queues configuration (``queue``, ``propertiesx``)."""

    def __init__(
        self, rset: ResourceSet, state: str, config: Mapping | None, queue: str | None = None
    ):
        self.rset = rset
        self.state = state
        self._config = config
        self._queue = queue

    def __getattr__(self, attr: str) -> Any:
        if attr.startswith("_"):
            raise AttributeError(attr)
        return getattr(self.rset, attr)

    def _queues(self) -> list[str]:
        queues = (self._config or {}).get("queues") if isinstance(self._config, Mapping) else None
        if not isinstance(queues, Mapping) or not self.rset.nnodes:
            return []
        props = set(self.rset.properties.split(",")) - {""}
        out = []
        for name, conf in queues.items():
            requires = conf.get("requires") if isinstance(conf, Mapping) else None
            if not requires or set(requires) <= props:
                out.append(name)
        return out

    @property
    def queue(self) -> str:
        if self._queue is not None:
            return self._queue
        return ",".join(self._queues())

    @property
    def propertiesx(self) -> str:
        queues = set(self.queue.split(",")) if self.queue else set()
        return ",".join(p for p in self.rset.properties.split(",") if p and p not in queues)

    @property
    def ranks(self) -> IDset:
        return self.rset.ranks

    def add(self, other: ResourceLine) -> None:
        self.rset = self.rset | other.rset


def _split_by_properties(rset: ResourceSet) -> list[ResourceSet]:
    """Split into subsets whose ranks share exactly the same property set."""
    props = rset.property_ranks()
    groups: dict[tuple[str, ...], list[int]] = {}
    for rank in rset.ranks:
        key = tuple(name for name, ranks in props.items() if rank in ranks)
        groups.setdefault(key, []).append(rank)
    return [rset.copy_ranks(ranks) for ranks in groups.values()]


def _lines(
    resources: SchedResourceList,
    states: Sequence[str],
    formatter: OutputFormat,
    config: Mapping | None,
    queues: Sequence[str] | None,
) -> list[ResourceLine]:
    uniq = ("state", "properties", "propertiesx", "queue")
    key_fmt = ""
    if len(formatter.fields) > 1 or "state" in formatter.fields:
        key_fmt = "".join("{" + f + "}:" for f in formatter.fields if f in uniq)
    keyer = OutputFormat(key_fmt, headings=formatter.headings)
    if not queues:
        conf_queues = (config or {}).get("queues") if isinstance(config, Mapping) else None
        queues = list(conf_queues) if isinstance(conf_queues, Mapping) and conf_queues else [None]
    lines: dict[str, ResourceLine] = {}

    def merge(line: ResourceLine) -> None:
        key = keyer.format(line)
        if key in lines:
            lines[key].add(line)
        else:
            lines[key] = line

    for state in states:
        rset = resources[state]
        if not rset.nnodes:
            for queue in queues:
                merge(ResourceLine(ResourceSet(), state, config, queue))
            continue
        for subset in _split_by_properties(rset):
            if subset.nnodes:
                merge(ResourceLine(subset, state, config))
    pos = {state: i for i, state in enumerate(states)}
    return sorted(lines.values(), key=lambda line: (pos[line.state], line.rset.first_rank()))


def _prepare(
    payload: Any,
    states: str | Sequence[str],
    config: Mapping | None,
    queues: Sequence[str] | None,
    include: str | None,
) -> tuple[SchedResourceList, list[str]]:
    if isinstance(states, str):
        states = states.split(",")
    states = list(states)
    for state in states:
        if state not in LIST_STATES:
            raise ListingError(
                f"invalid resource state {state!r} (valid: {', '.join(LIST_STATES)})"
            )
    resources = SchedResourceList(payload)
    if queues:
        resources.filter(ranks_by_queue(resources.all, config, queues))
    if include:
        resources.filter(target_ranks(resources.all, include))
    return resources, states


def resource_list_text(
    payload: Any,
    fmt: str = "default",
    states: str | Sequence[str] = "free,allocated,down",
    skip_empty: bool = False,
    no_header: bool = False,
    config: Mapping | None = None,
    queues: Sequence[str] | None = None,
    include: str | None = None,
) -> str:
    """The text ``flux resource list`` prints (each line ends in ``\\n``)."""
    fmt = LIST_FORMATS.get(fmt, fmt)
    if "{" not in fmt:
        raise ListingError(f"--format: No such format {fmt}")
    formatter = OutputFormat(fmt, headings=LIST_HEADINGS)
    resources, states = _prepare(payload, states, config, queues, include)
    items = _lines(resources, states, formatter, config, queues)
    if skip_empty or include:
        items = [line for line in items if line.rset.nnodes]
    return "".join(line + "\n" for line in formatter.render(items, no_header=no_header))


def resource_info_text(
    payload: Any,
    states: str | Sequence[str] | None = None,
    config: Mapping | None = None,
    queues: Sequence[str] | None = None,
    include: str | None = None,
) -> str:
    """``flux resource info``: one summary line, e.g. ``4 Nodes, 16 Cores, 0 GPUs``."""
    return resource_list_text(
        payload,
        fmt=INFO_FORMAT,
        states=states or "all",
        no_header=True,
        config=config,
        queues=queues,
        include=include,
    )


def resource_R_text(
    payload: Any,
    states: str | Sequence[str] = "all",
    config: Mapping | None = None,
    queues: Sequence[str] | None = None,
    include: str | None = None,
) -> str:
    """``flux resource R``: the union of the given states as one line of R."""
    resources, states = _prepare(payload, states, config, queues, include)
    rset = ResourceSet()
    for state in states:
        rset.add(resources[state])
    return rset.encode() + "\n"
