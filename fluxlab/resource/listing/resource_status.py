"""``flux resource status`` as a pure function.

Input is the resource module's status payload: ``R`` (all resources),
idsets ``online``, ``offline``, ``exclude`` and ``torpid``, and ``drain``,
a map from an idset to ``{reason, timestamp}``.  Allocated and housekeeping
ranks come from the scheduler and are passed separately.

Derived sets: ``drained`` = drained and not allocated, ``draining`` =
drained and allocated, ``avail`` = every rank not excluded, drained,
draining, torpid or in housekeeping.  Lines are produced per state and
online/offline (``*`` marks offline), then lines that format identically
(ignoring ``nodelist``, ``ranks`` and ``nnodes``) are merged.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fluxlab.resource.hostlist import Hostlist
from fluxlab.resource.idset import IDset
from fluxlab.resource.listing.resource_list import ListingError, ranks_by_queue, target_ranks
from fluxlab.resource.rv1 import ResourceSet, RvError, safe_idset
from fluxlab.util.outputformat import Deduplicator, OutputFormat

__all__ = [
    "STATUS_FORMATS",
    "STATUS_HEADINGS",
    "AltField",
    "ResourceStatus",
    "StatusLine",
    "resource_status_text",
]

STATUS_STATES = (
    "all",
    "online",
    "avail",
    "offline",
    "exclude",
    "drain",
    "draining",
    "drained",
    "torpid",
    "allocated",
    "housekeeping",
)
DEFAULT_STATES = "avail,exclude,draining,drained,torpid,housekeeping"

STATUS_HEADINGS = {
    "state": "STATE",
    "statex": "STATE",
    "nnodes": "NNODES",
    "ranks": "RANKS",
    "nodelist": "NODELIST",
    "reason": "REASON",
    "timestamp": "TIME",
    "status": "STATUS",
    "up": "UP",
    "up.ascii": "UP",
    "color_up": "",
    "color_off": "",
}

STATUS_FORMATS = {
    "default": "{state:>12} {color_up}{up:>2}{color_off} {nnodes:>6} {nodelist}",
    "long": "{state:>12} {color_up}{up:>2}{color_off} {nnodes:>6} +:{reason:<30.30} {nodelist}",
}


class AltField:
    """A value with a Unicode form (``str``) and an ASCII form (``.ascii``)."""

    def __init__(self, default: str, ascii: str):
        self.default = default
        self.ascii = ascii

    def __str__(self) -> str:
        return self.default

    def __format__(self, spec: str) -> str:
        return format(self.default, spec)


def _idset(value: Any, where: str) -> IDset:
    if value is None:
        return IDset()
    try:
        return safe_idset(value, where)
    except RvError as exc:
        raise ListingError(str(exc)) from None


class ResourceStatus:
    """Combined resource-module and scheduler view of every rank."""

    def __init__(
        self,
        rstatus: Mapping[str, Any] | None = None,
        allocated_ranks: Iterable[int] | None = None,
        housekeeping_ranks: Iterable[int] | None = None,
    ):
        if rstatus is None:
            rstatus = {"R": None, "offline": "", "online": "", "exclude": "", "drain": {}}
        if not isinstance(rstatus, Mapping):
            raise ListingError("resource status payload must be an object")
        self.rstatus = rstatus
        try:
            self.rset = ResourceSet(rstatus.get("R"))
        except RvError as exc:
            raise ListingError(f"R: {exc}") from None
        drain = rstatus.get("drain") or {}
        if not isinstance(drain, Mapping):
            raise ListingError("drain: must be an object")
        self._drain = {}
        for key, entry in drain.items():
            if not isinstance(entry, Mapping):
                raise ListingError(f"drain.{key}: must be an object with reason and timestamp")
            self._drain[key] = (_idset(key, f"drain.{key}"), entry)
        self._allocated = _idset(allocated_ranks or [], "allocated")
        self._housekeeping = _idset(housekeeping_ranks or [], "housekeeping")
        self._recalculate()

    def _recalculate(self, include: IDset | None = None) -> None:
        r = self.rstatus
        self.all = self.rset.ranks
        self.offline = _idset(r.get("offline"), "offline")
        self.online = _idset(r.get("online"), "online")
        self.exclude = _idset(r.get("exclude"), "exclude")
        self.torpid = _idset(r.get("torpid"), "torpid")
        self.allocated = self._allocated.copy()
        self.housekeeping = self._housekeeping.copy()
        if include is not None:
            for name in (
                "all",
                "offline",
                "online",
                "exclude",
                "torpid",
                "allocated",
                "housekeeping",
            ):
                setattr(self, name, getattr(self, name) & include)
        drained = IDset()
        self._drain_info: dict[int, Mapping] = {}
        for ranks, entry in self._drain.values():
            if include is not None:
                ranks = ranks & include
            drained.add(ranks)
            for rank in ranks:
                self._drain_info[rank] = entry
        self.draining = drained & self.allocated
        self.drained = drained - self.draining
        blocked = self.get_idset("exclude", "drained", "draining", "torpid", "housekeeping")
        self.avail = self.all - blocked

    def filter(self, include: IDset | str | Iterable[int]) -> None:
        """Restrict every set to ``include`` (ranks, or a hostlist)."""
        self._recalculate(target_ranks(self.rset, include))

    def __getitem__(self, state: str) -> IDset:
        return getattr(self, state)

    def get_idset(self, *states: str) -> IDset:
        ids = IDset()
        for state in states:
            ids.add(self[state])
        return ids

    def hosts(self, ranks: Iterable[int]) -> Hostlist:
        names = [self.rset.hostname(r) for r in ranks]
        return Hostlist([n for n in names if n is not None])

    def drain_info(self, rank: int) -> Mapping:
        return self._drain_info.get(rank, {})


class StatusLine:
    """One line of ``flux resource status``."""

    def __init__(
        self,
        state: str,
        online: bool,
        ranks: IDset,
        hosts: Hostlist,
        reason: str = "",
        timestamp: Any = "",
    ):
        self._state = state
        self._online = online
        self._ranks = IDset(ranks)
        self.hostlist = Hostlist(hosts)
        self.reason = reason
        self.timestamp = timestamp

    def update(self, other: StatusLine) -> None:
        self._ranks.add(other._ranks)
        self.hostlist.append(other.hostlist)
        self.hostlist.sort()

    statex = property(lambda self: self._state)
    state = property(lambda self: self._state if self._online else self._state + "*")
    offline = property(lambda self: not self._online)
    status = property(lambda self: "online" if self._online else "offline")
    color_up = property(lambda self: "\033[01;32m" if self._online else "\033[01;31m")
    color_off = property(lambda self: "\033[0;0m")
    up = property(lambda self: AltField("✔", "y") if self._online else AltField("✗", "n"))
    nodelist = property(lambda self: str(self.hostlist))
    ranks = property(lambda self: str(self._ranks))
    nnodes = property(lambda self: len(self.hostlist))


def _status_states(states: str | Sequence[str] | None) -> list[str]:
    chosen = list(states.split(",") if isinstance(states, str) else states) if states else []
    for state in chosen:
        if state not in STATUS_STATES:
            raise ListingError(
                f"invalid resource state {state!r} (valid: {', '.join(STATUS_STATES)})"
            )
    if not [s for s in chosen if s not in ("online", "offline")]:
        chosen.extend(DEFAULT_STATES.split(","))
    if "drain" in chosen:
        chosen.remove("drain")
        chosen.extend(("draining", "drained"))
    return chosen


def resource_status_text(
    payload: Any,
    fmt: str = "default",
    states: str | Sequence[str] | None = None,
    skip_empty: bool = False,
    no_header: bool = False,
    color: bool = False,
    config: Mapping | None = None,
    queues: Sequence[str] | None = None,
    include: str | None = None,
    allocated_ranks: Iterable[int] | None = None,
    housekeeping_ranks: Iterable[int] | None = None,
) -> str:
    """The text ``flux resource status`` prints (each line ends in ``\\n``).

    ``states=None`` means the default states; empty lines are then skipped.
    """
    fmt = STATUS_FORMATS.get(fmt, fmt)
    if "{" not in fmt:
        raise ListingError(f"--format: No such format {fmt}")
    chosen = _status_states(states)
    rstatus = ResourceStatus(payload, allocated_ranks, housekeeping_ranks)
    if queues:
        rstatus.filter(ranks_by_queue(rstatus.rset, config, queues))
    if include:
        rstatus.filter(include)
    formatter = OutputFormat(fmt, headings=STATUS_HEADINGS)
    if not color:
        formatter = formatter.copy(except_fields=["color_up", "color_off"])
    skip_all_empty = skip_empty or not states
    skip_empty_offline = "offline" not in chosen
    include_online = "online" in chosen or "offline" not in chosen
    include_offline = "offline" in chosen or "online" not in chosen
    wanted = set(chosen)
    for drain_state in ("draining", "drained"):
        if "all" in wanted or drain_state in wanted:
            rstatus.torpid = rstatus.torpid - rstatus[drain_state]
    lines = Deduplicator(
        formatter, except_fields=["nodelist", "ranks", "nnodes"], combine=StatusLine.update
    )
    for state in ("avail", "exclude", "allocated", "torpid", "housekeeping"):
        if not wanted & {state, "all"}:
            continue
        for online in (True, False):
            if not (include_online if online else include_offline):
                continue
            ranks = rstatus[state] & rstatus["online" if online else "offline"]
            lines.append(StatusLine(state, online, ranks, rstatus.hosts(ranks)))
    for state in ("draining", "drained"):
        if not wanted & {state, "all"}:
            continue
        ranks = rstatus[state]
        if not ranks and include_online:
            lines.append(StatusLine(state, True, IDset(), Hostlist()))
        for rank in ranks:
            online = rank in rstatus.online
            if not (include_online if online else include_offline):
                continue
            info = rstatus.drain_info(rank)
            lines.append(
                StatusLine(
                    state,
                    online,
                    IDset([rank]),
                    rstatus.hosts([rank]),
                    reason=str(info.get("reason", "")),
                    timestamp=info.get("timestamp", ""),
                )
            )
    items = [
        line
        for line in lines
        if line.nnodes or not (skip_all_empty or (line.offline and skip_empty_offline))
    ]
    return "".join(line + "\n" for line in formatter.render(items, no_header=no_header))
