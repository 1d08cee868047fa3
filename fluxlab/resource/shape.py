"""What each rank contributes to R: its shape, from discovery or configuration.

Pure functions only.  The ``resource`` module on every rank calls
:func:`rank_shape` with the instance configuration, its module arguments
and what :mod:`fluxlab.resource.discover` found; rank 0 collects the shapes
and calls :func:`build_R`.

Configuration (``conf["resource"]``, all keys optional)::

    {"cores-per-node": 4,          # fake cores 0..3 on every rank
     "gpus-per-node": 1,           # fake gpus 0..0 on every rank
     "hostnames": "node[0-3]",     # one host per rank, in rank order
     "properties": {"big": "2-3"}, # property -> ranks (idset) or hosts (hostlist)
     "exclude": "0",               # ranks (idset) or hosts never given to the scheduler
     "R": {...}}                   # a complete R instead of shapes

Module arguments ``cores=N`` and ``gpus=N`` override the per-node counts for
the rank that loads the module.  A count that is not configured comes from
discovery; the hostname is ``hostnames[rank]`` when configured, else the
broker's host name.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from fluxlab.resource.discover import LocalResources
from fluxlab.resource.hostlist import Hostlist, HostlistError
from fluxlab.resource.idset import IDset, IdsetError
from fluxlab.resource.rv1 import MAX_IDS, ResourceSet, RvError, hostlist_within_limit

__all__ = [
    "NodeShape",
    "ResourceConfig",
    "ResourceConfigError",
    "build_R",
    "parse_module_args",
    "rank_shape",
    "ranks_of",
]

_KEYS = {"cores-per-node", "gpus-per-node", "hostnames", "properties", "exclude", "R"}
_MAX_PER_NODE = 1 << 16


class ResourceConfigError(ValueError):
    """Bad ``resource`` configuration, module argument or shape payload."""


def _count(value: Any, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ResourceConfigError(f"{where}: must be an integer, not {value!r}")
    if not minimum <= value <= _MAX_PER_NODE:
        raise ResourceConfigError(f"{where}: must be {minimum}..{_MAX_PER_NODE}, not {value}")
    return value


def _idset_text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise ResourceConfigError(f"{where}: must be an idset string")
    try:
        ids = IDset(value)
    except IdsetError as exc:
        raise ResourceConfigError(f"{where}: {exc}") from None
    if len(ids) > _MAX_PER_NODE:
        raise ResourceConfigError(f"{where}: more than {_MAX_PER_NODE} ids")
    return ids.encode()


def ranks_of(spec: Any, hosts: Mapping[int, str | None], where: str) -> IDset:
    """Ranks named by ``spec``: an idset of ranks, else a hostlist.

    ``hosts`` maps every valid rank to its host name (None when unknown).
    Every rank must be valid and every host must name at least one rank; a
    host name held by several ranks selects all of them.

    Raises
    ------
    ResourceConfigError
        Naming the bad rank or host.
    """
    if not isinstance(spec, str):
        raise ResourceConfigError(f"{where}: must be a string (idset or hostlist)")
    text = spec.strip()
    if not text:
        raise ResourceConfigError(f"{where}: must not be empty")
    try:
        ranks = IDset(text)
    except IdsetError:
        ranks = None
    if ranks is not None:
        bad = IDset(r for r in ranks if r not in hosts)
        if bad:
            plural = "s" if len(bad) > 1 else ""
            raise ResourceConfigError(
                f"{where}: rank{plural} {bad} not found (valid ranks: {IDset(hosts)})"
            )
        return ranks
    if not hostlist_within_limit(text):
        raise ResourceConfigError(f"{where}: more than {MAX_IDS} hosts")
    try:
        wanted = Hostlist(text)
    except HostlistError as exc:
        raise ResourceConfigError(
            f"{where}: {text!r} is neither an idset nor a hostlist: {exc}"
        ) from None
    by_host: dict[str, list[int]] = {}
    for rank, host in sorted(hosts.items()):
        if host is not None:
            by_host.setdefault(host, []).append(rank)
    out = IDset()
    for host in wanted:
        if host not in by_host:
            raise ResourceConfigError(f"{where}: unknown host {host!r}")
        out.add(by_host[host])
    return out


@dataclass(frozen=True)
class NodeShape:
    """One rank's resources as reported to rank 0 (``resource.monitor``).

    ``cores``/``gpus`` are idset strings (``""`` for none).
    """

    rank: int
    hostname: str
    cores: str
    gpus: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "hostname": self.hostname,
            "cores": self.cores,
            "gpus": self.gpus,
        }

    @classmethod
    def from_dict(cls, obj: Any, where: str = "shape") -> NodeShape:
        """Validate a wire payload (errors name the field)."""
        if not isinstance(obj, Mapping):
            raise ResourceConfigError(f"{where}: must be an object")
        rank = obj.get("rank")
        if isinstance(rank, bool) or not isinstance(rank, int) or rank < 0:
            raise ResourceConfigError(f"{where}.rank: must be a non-negative integer")
        host = obj.get("hostname")
        if not isinstance(host, str) or not host or "," in host or "[" in host:
            raise ResourceConfigError(f"{where}.hostname: must be a plain host name")
        cores = _idset_text(obj.get("cores"), f"{where}.cores")
        gpus = _idset_text(obj.get("gpus", ""), f"{where}.gpus")
        return cls(rank, host, cores, gpus)


@dataclass
class ResourceConfig:
    """The validated ``resource`` table of the instance configuration."""

    size: int = 1
    cores_per_node: int | None = None
    gpus_per_node: int | None = None
    hostnames: list[str] | None = None
    properties: dict[str, IDset] = field(default_factory=dict)
    exclude: IDset = field(default_factory=IDset)
    R: ResourceSet | None = None

    @property
    def fake_shape(self) -> bool:
        """True when configuration alone fixes every rank's core count."""
        return self.cores_per_node is not None

    @classmethod
    def parse(cls, conf: Any, size: int) -> ResourceConfig:
        """Validate ``conf`` (the ``resource`` table, or None) for ``size`` ranks.

        Raises
        ------
        ResourceConfigError
            Naming the key (``resource.hostnames`` ...) and what is wrong.
        """
        cfg = cls(size=size)
        if conf is None:
            return cfg
        if not isinstance(conf, Mapping):
            raise ResourceConfigError("resource: configuration must be a table (object)")
        unknown = sorted(str(k) for k in conf if k not in _KEYS)
        if unknown:
            raise ResourceConfigError(
                f"resource: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(_KEYS))})"
            )
        if "R" in conf:
            clash = sorted(
                k
                for k in ("cores-per-node", "gpus-per-node", "hostnames", "properties")
                if k in conf
            )
            if clash:
                raise ResourceConfigError(
                    f"resource.R: cannot be combined with {', '.join('resource.' + k for k in clash)}"
                )
            cfg.R = _parse_R(conf["R"], size)
        if "cores-per-node" in conf:
            cfg.cores_per_node = _count(conf["cores-per-node"], "resource.cores-per-node", 1)
        if "gpus-per-node" in conf:
            cfg.gpus_per_node = _count(conf["gpus-per-node"], "resource.gpus-per-node", 0)
        if "hostnames" in conf:
            cfg.hostnames = _parse_hostnames(conf["hostnames"], size)
        hosts = cfg._hosts()
        if "properties" in conf:
            props = conf["properties"]
            if not isinstance(props, Mapping):
                raise ResourceConfigError("resource.properties: must be a table of name = targets")
            for name, spec in props.items():
                try:  # property names follow rv1's rules
                    ResourceSet.from_nodes([(0, None, 1, 0)], properties={name: [0]})
                except RvError as exc:
                    raise ResourceConfigError(f"resource.properties: {exc}") from None
                cfg.properties[name] = ranks_of(spec, hosts, f"resource.properties.{name}")
        if "exclude" in conf:
            cfg.exclude = ranks_of(conf["exclude"], hosts, "resource.exclude")
        return cfg

    def _hosts(self) -> dict[int, str | None]:
        if self.R is not None:
            return {r: self.R.hostname(r) for r in self.R.ranks}
        if self.hostnames is not None:
            return dict(enumerate(self.hostnames))
        return dict.fromkeys(range(self.size))


def _parse_R(value: Any, size: int) -> ResourceSet:
    try:
        rset = ResourceSet(value) if isinstance(value, (str, Mapping)) else None
    except RvError as exc:
        raise ResourceConfigError(f"resource.R: {exc}") from None
    if rset is None:
        raise ResourceConfigError("resource.R: must be an R object or its JSON text")
    if not rset.nnodes:
        raise ResourceConfigError("resource.R: holds no ranks")
    bad = IDset(r for r in rset.ranks if r >= size)
    if bad:
        raise ResourceConfigError(
            f"resource.R: ranks {bad} are not in this instance of size {size}"
        )
    return rset


def _parse_hostnames(value: Any, size: int) -> list[str]:
    if not isinstance(value, str) or not value.strip():
        raise ResourceConfigError("resource.hostnames: must be a non-empty hostlist string")
    if not hostlist_within_limit(value):
        raise ResourceConfigError(f"resource.hostnames: more than {MAX_IDS} hosts")
    try:
        hosts = list(Hostlist(value))
    except HostlistError as exc:
        raise ResourceConfigError(f"resource.hostnames: {exc}") from None
    if len(hosts) != size:
        raise ResourceConfigError(
            f"resource.hostnames: {value!r} names {len(hosts)} host(s) but the instance "
            f"has {size} rank(s); give exactly one host per rank"
        )
    return hosts


def parse_module_args(args: Iterable[str]) -> dict[str, int]:
    """``cores=N gpus=N`` module arguments as ``{"cores": N, "gpus": N}``."""
    out: dict[str, int] = {}
    for arg in args:
        key, sep, value = str(arg).partition("=")
        if not sep or key not in ("cores", "gpus"):
            raise ResourceConfigError(
                f"resource: unknown module argument {arg!r} (expected cores=N or gpus=N)"
            )
        try:
            number = int(value)
        except ValueError:
            raise ResourceConfigError(
                f"resource: {key}= must be an integer, not {value!r}"
            ) from None
        out[key] = _count(number, f"resource: {key}=", 1 if key == "cores" else 0)
    return out


def rank_shape(
    rank: int,
    cfg: ResourceConfig,
    args: Mapping[str, int],
    local: LocalResources,
    hostname: str,
) -> NodeShape:
    """The shape of ``rank``: module arguments, then configuration, then discovery."""
    cores = args.get("cores", cfg.cores_per_node)
    gpus = args.get("gpus", cfg.gpus_per_node)
    core_ids = IDset(range(cores)) if cores is not None else IDset(local.cores)
    gpu_ids = IDset(range(gpus)) if gpus is not None else IDset(local.gpus)
    host = cfg.hostnames[rank] if cfg.hostnames is not None else hostname
    return NodeShape(rank, host, core_ids.encode(), gpu_ids.encode())


def build_R(shapes: Iterable[NodeShape], cfg: ResourceConfig) -> ResourceSet:
    """R for the reported ``shapes`` plus the configured properties.

    A property whose ranks did not all report keeps the ranks that did.
    """
    if cfg.R is not None:
        return cfg.R.copy()
    nodes = sorted(shapes, key=lambda s: s.rank)
    present = {s.rank for s in nodes}
    props = {name: [r for r in ranks if r in present] for name, ranks in cfg.properties.items()}
    return ResourceSet.from_nodes(
        [(s.rank, s.hostname, s.cores, s.gpus or 0) for s in nodes], properties=props
    )
