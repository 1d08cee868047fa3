"""Hostlists: ordered lists of host names in RFC 29 compressed form.

A hostlist string is a comma separated list of items; each item is either a
plain host name or ``prefix[idlist]suffix`` where ``idlist`` is a comma list of
numbers and ``lo-hi`` ranges, e.g. ``node[1-4,7]`` or ``foo[0-4]-eth2``.  The
order of hosts is significant and duplicates are allowed, so nothing is ever
sorted implicitly.  The zero padding of a range follows the written width of
its first number (``p[00-3]`` is ``p00 p01 p02 p03``).

Encoding folds only a *trailing* number: adjacent hosts that share a prefix
and whose numbers print with the same width join into one bracket group.

:class:`Hostlist` mirrors ``flux.hostlist.Hostlist``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

__all__ = ["Hostlist", "HostlistError", "decode", "encode"]

_TRAILING = re.compile(r"^(.*?)(\d+)$")


class HostlistError(ValueError):
    """Raised for a hostlist string that does not follow RFC 29."""


def _split_items(text: str) -> list[str]:
    items, depth, cur = [], 0, []
    for ch in text:
        if ch == "[":
            depth += 1
            if depth > 1:
                raise HostlistError(f"invalid hostlist {text!r}: nested brackets")
        elif ch == "]":
            depth -= 1
            if depth < 0:
                raise HostlistError(f"invalid hostlist {text!r}: unbalanced brackets")
        if ch == "," and depth == 0:
            items.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if depth != 0:
        raise HostlistError(f"invalid hostlist {text!r}: unbalanced brackets")
    items.append("".join(cur))
    return [i.strip() for i in items if i.strip()]


def _expand_item(item: str, text: str) -> list[str]:
    if "[" not in item:
        if "]" in item:
            raise HostlistError(f"invalid hostlist {text!r}: unbalanced brackets")
        return [item]
    prefix, _, rest = item.partition("[")
    body, _, suffix = rest.partition("]")
    if "[" in suffix or "]" in suffix:
        raise HostlistError(
            f"invalid hostlist {text!r}: only one bracket group per host is allowed"
        )
    hosts = []
    for part in body.split(","):
        lo_s, sep, hi_s = part.strip().partition("-")
        if not lo_s.isdigit() or (sep and not hi_s.isdigit()):
            raise HostlistError(f"invalid hostlist {text!r}: bad range {part!r} in {item!r}")
        lo, hi = int(lo_s), int(hi_s) if sep else int(lo_s)
        if hi < lo:
            raise HostlistError(f"invalid hostlist {text!r}: range {part!r} is descending")
        if hi - lo >= 1_000_000:
            raise HostlistError(f"invalid hostlist {text!r}: range {part!r} is too large")
        width = len(lo_s)
        hosts.extend(f"{prefix}{str(n).zfill(width)}{suffix}" for n in range(lo, hi + 1))
    return hosts


def decode(text: str) -> list[str]:
    """Expand a hostlist string into a list of host names."""
    if not isinstance(text, str):
        raise HostlistError(f"hostlist must be a string, not {type(text).__name__}")
    out: list[str] = []
    for item in _split_items(text):
        out.extend(_expand_item(item, text))
    return out


def encode(hosts: Iterable[str]) -> str:
    """Compress host names into an RFC 29 hostlist string, keeping their order."""
    # Build runs: [prefix, width, [[lo, hi], ...]] or a plain name (str).
    groups: list = []
    for h in hosts:
        m = _TRAILING.match(h)
        if not m:
            groups.append(h)
            continue
        prefix, digits = m.group(1), m.group(2)
        num = int(digits)
        last = groups[-1] if groups else None
        if isinstance(last, list) and last[0] == prefix and str(num).zfill(last[1]) == digits:
            ranges = last[2]
            if num == ranges[-1][1] + 1:
                ranges[-1][1] = num
            else:
                ranges.append([num, num])
        else:
            groups.append([prefix, len(digits), [[num, num]]])
    parts = []
    for g in groups:
        if isinstance(g, str):
            parts.append(g)
            continue
        prefix, width, ranges = g
        if len(ranges) == 1 and ranges[0][0] == ranges[0][1]:
            parts.append(f"{prefix}{str(ranges[0][0]).zfill(width)}")
            continue
        body = ",".join(
            str(lo).zfill(width) if lo == hi else f"{str(lo).zfill(width)}-{str(hi).zfill(width)}"
            for lo, hi in ranges
        )
        parts.append(f"{prefix}[{body}]")
    return ",".join(parts)


class Hostlist:
    """An ordered list of host names (``flux.hostlist.Hostlist``).

    Parameters
    ----------
    arg : str or iterable of str
        A hostlist string, or host names (each may itself be a hostlist string).
    """

    __slots__ = ("_hosts",)

    def __init__(self, arg: str | Iterable[str] | Hostlist = ""):
        if isinstance(arg, Hostlist):
            self._hosts = list(arg._hosts)
        elif isinstance(arg, str):
            self._hosts = decode(arg)
        else:
            self._hosts = []
            for item in arg:
                self._hosts.extend(decode(item))

    def __len__(self) -> int:
        return len(self._hosts)

    def __iter__(self) -> Iterator[str]:
        return iter(self._hosts)

    def __contains__(self, host: object) -> bool:
        return host in self._hosts

    def __getitem__(self, index):
        if isinstance(index, slice):
            return Hostlist(self._hosts[index])
        return self._hosts[index]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Hostlist):
            return self._hosts == other._hosts
        if isinstance(other, str):
            return self._hosts == decode(other)
        return NotImplemented

    __hash__ = None  # mutable

    def index(self, host: str) -> int:
        """Position of the first occurrence of ``host``."""
        try:
            return self._hosts.index(host)
        except ValueError:
            raise ValueError(f"host {host!r} is not in the hostlist") from None

    def append(self, arg: str | Iterable[str]) -> int:
        """Append hosts; returns how many were added."""
        new = Hostlist(arg)
        self._hosts.extend(new._hosts)
        return len(new)

    def delete(self, arg: str | Iterable[str]) -> int:
        """Delete every occurrence of the given hosts; returns how many were removed."""
        drop = set(Hostlist(arg))
        before = len(self._hosts)
        self._hosts = [h for h in self._hosts if h not in drop]
        return before - len(self._hosts)

    def sort(self) -> Hostlist:
        """Sort in place by prefix then number ("natural" order); returns self."""

        def key(h: str):
            m = _TRAILING.match(h)
            return (m.group(1), int(m.group(2)), h) if m else (h, -1, h)

        self._hosts.sort(key=key)
        return self

    def uniq(self) -> Hostlist:
        """Sort and drop duplicates in place; returns self."""
        self._hosts = list(dict.fromkeys(self._hosts))
        return self.sort()

    def copy(self) -> Hostlist:
        return Hostlist(self)

    def expand(self) -> list[str]:
        return list(self._hosts)

    def encode(self) -> str:
        return encode(self._hosts)

    def __str__(self) -> str:
        return self.encode()

    def __repr__(self) -> str:
        return f"Hostlist('{self.encode()}')"
