"""Local resource discovery: this host's cores, memory, GPUs and hostname.

The parsers are pure functions of the text they are given; :func:`discover`
is the only place that reads files, runs ``nvidia-smi`` or asks the kernel,
and every one of those steps tolerates a missing file or program (the
resource is then reported as absent, never as an error).

What is reported
----------------
cores
    The logical CPU ids this process may run on (``os.sched_getaffinity``).
    Hardware threads count as cores, unlike Flux's hwloc reader which counts
    physical cores; the ids are exactly what ``taskset``/binding use.
gpus
    NVIDIA GPU indices in ``nvidia-smi`` order (PCI bus order), taken from
    ``nvidia-smi -L`` when it runs, else from ``/proc/driver/nvidia/gpus/*``,
    else none.  ``CUDA_VISIBLE_DEVICES`` restricts them the way the CUDA
    runtime does (indices or ``GPU-`` UUID prefixes, parsing stops at the
    first entry that names no device, an empty value or ``NoDevFiles`` hides
    all).  The ids stay *physical* indices, so an exec system that sets
    ``CUDA_VISIBLE_DEVICES`` from R selects the right devices.
memory
    ``MemTotal`` from ``/proc/meminfo`` in bytes (0 when unknown).

:func:`local_resources` caches the result per process (keyed by the CPU
affinity and ``CUDA_VISIBLE_DEVICES``), so a process running many embedded
brokers discovers once.
"""

from __future__ import annotations

import functools
import os
import re
import shutil
import socket
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import NamedTuple

__all__ = [
    "GPUInfo",
    "LocalResources",
    "discover",
    "local_resources",
    "parse_meminfo",
    "parse_nvidia_smi",
    "parse_proc_gpus",
    "visible_gpus",
]

_SMI_LINE = re.compile(r"^GPU (\d+): .*\(UUID: (GPU-[0-9A-Za-z-]+)\)\s*$")
_NVIDIA_SMI_TIMEOUT = 10.0


class GPUInfo(NamedTuple):
    """One GPU: its index (``nvidia-smi`` numbering) and UUID (may be empty)."""

    index: int
    uuid: str


@dataclass(frozen=True)
class LocalResources:
    """What :func:`discover` found on this host.

    Attributes
    ----------
    hostname : str
    cores : tuple of int
        Sorted logical CPU ids available to this process.
    gpus : tuple of int
        Sorted GPU indices visible to this process.
    memory : int
        Total memory in bytes (0 when unknown).
    gpu_source : str
        Where the GPU list came from: ``nvidia-smi``, ``proc`` or ``none``.
    """

    hostname: str
    cores: tuple[int, ...]
    gpus: tuple[int, ...]
    memory: int
    gpu_source: str = "none"


# -- pure parsers --------------------------------------------------------------
def parse_meminfo(text: str) -> int:
    """``MemTotal`` in bytes from ``/proc/meminfo`` text; 0 if absent or malformed."""
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        if key.strip() != "MemTotal":
            continue
        parts = rest.split()
        if not parts or not parts[0].isdigit():
            return 0
        unit = parts[1].lower() if len(parts) > 1 else ""
        scale = {"kb": 1024, "mb": 1024**2, "gb": 1024**3, "": 1, "b": 1}.get(unit)
        return int(parts[0]) * scale if scale else 0
    return 0


def parse_nvidia_smi(text: str) -> list[GPUInfo]:
    """GPUs listed by ``nvidia-smi -L`` (MIG lines and noise are ignored)."""
    gpus = []
    for line in text.splitlines():
        m = _SMI_LINE.match(line.strip())
        if m:
            gpus.append(GPUInfo(int(m.group(1)), m.group(2)))
    return sorted(gpus)


def parse_proc_gpus(entries: Mapping[str, str]) -> list[GPUInfo]:
    """GPUs from ``/proc/driver/nvidia/gpus``: ``{pci_bus_id: information_text}``.

    Indices follow PCI bus order, as ``nvidia-smi`` numbers them; the UUID
    comes from the ``GPU UUID:`` line of each ``information`` file (empty
    when that file is missing or has none).
    """
    gpus = []
    for index, bus in enumerate(sorted(entries, key=str.lower)):
        uuid = ""
        for line in (entries[bus] or "").splitlines():
            key, _, value = line.partition(":")
            if key.strip() == "GPU UUID":
                uuid = value.strip()
                break
        gpus.append(GPUInfo(index, uuid))
    return gpus


def visible_gpus(gpus: Sequence[GPUInfo], cuda_visible_devices: str | None) -> tuple[int, ...]:
    """The indices of ``gpus`` that ``CUDA_VISIBLE_DEVICES`` leaves visible.

    ``None`` (unset) keeps every GPU.  Otherwise entries are indices or
    ``GPU-`` UUID prefixes; like the CUDA runtime, the list ends at the first
    entry that is malformed, names no device, is ambiguous or repeats one.
    """
    if cuda_visible_devices is None:
        return tuple(sorted(g.index for g in gpus))
    by_index = {g.index: g for g in gpus}
    chosen: list[int] = []
    for raw in cuda_visible_devices.split(","):
        entry = raw.strip()
        found: int | None = None
        if entry.isdigit():
            found = int(entry) if int(entry) in by_index else None
        elif entry.startswith("GPU-"):
            matches = [g.index for g in gpus if g.uuid and g.uuid.startswith(entry)]
            found = matches[0] if len(matches) == 1 else None
        if found is None or found in chosen:
            break
        chosen.append(found)
    return tuple(sorted(chosen))


# -- I/O edge --------------------------------------------------------------------
def _read(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return None


def _proc_gpus(root: str) -> dict[str, str]:
    base = os.path.join(root, "proc", "driver", "nvidia", "gpus")
    try:
        names = os.listdir(base)
    except OSError:
        return {}
    return {name: _read(os.path.join(base, name, "information")) or "" for name in names}


@functools.lru_cache(maxsize=8)
def _nvidia_smi_output(program: str) -> str | None:
    """``nvidia-smi -L`` output, or None when it is missing or fails (cached)."""
    path = shutil.which(program)
    if path is None:
        return None
    try:
        proc = subprocess.run(
            [path, "-L"],
            capture_output=True,
            text=True,
            timeout=_NVIDIA_SMI_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout if proc.returncode == 0 else None


def _affinity() -> list[int]:
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return list(range(os.cpu_count() or 1))


def discover(
    root: str = "/",
    env: Mapping[str, str] | None = None,
    nvidia_smi: str | None = "nvidia-smi",
    cores: Iterable[int] | None = None,
    hostname: str | None = None,
) -> LocalResources:
    """Discover this host's resources.

    Parameters
    ----------
    root : str
        Directory that holds ``proc/`` (``/`` for the real host; tests give a
        fake tree).
    env : mapping, optional
        Environment to read ``CUDA_VISIBLE_DEVICES`` from (default
        ``os.environ``).
    nvidia_smi : str or None
        Program to run as ``nvidia-smi -L``; None skips it.
    cores : iterable of int, optional
        CPU ids to report instead of this process's affinity.
    hostname : str, optional
        Host name to report instead of ``socket.gethostname()``.
    """
    env = os.environ if env is None else env
    gpus: list[GPUInfo] = []
    source = "none"
    if nvidia_smi:
        out = _nvidia_smi_output(nvidia_smi)
        if out is not None:
            gpus = parse_nvidia_smi(out)
            source = "nvidia-smi"
    if not gpus:
        gpus = parse_proc_gpus(_proc_gpus(root))
        source = "proc" if gpus else "none"
    return LocalResources(
        hostname=hostname or socket.gethostname(),
        cores=tuple(sorted(set(_affinity() if cores is None else cores))),
        gpus=visible_gpus(gpus, env.get("CUDA_VISIBLE_DEVICES")),
        memory=parse_meminfo(_read(os.path.join(root, "proc", "meminfo")) or ""),
        gpu_source=source,
    )


@functools.lru_cache(maxsize=16)
def _cached(cuda_visible: str | None, affinity: tuple[int, ...]) -> LocalResources:
    env = {} if cuda_visible is None else {"CUDA_VISIBLE_DEVICES": cuda_visible}
    return discover(env=env, cores=affinity)


def local_resources() -> LocalResources:
    """:func:`discover` for the real host, cached per process."""
    return _cached(os.environ.get("CUDA_VISIBLE_DEVICES"), tuple(_affinity()))
