"""k-ary tree topology of an instance's ranks (pure functions).

Ranks ``0..size-1`` form a complete k-ary tree rooted at rank 0: the parent of
rank ``r > 0`` is ``(r - 1) // k`` and its children are ``k*r + 1 .. k*r + k``
(those below ``size``).  ``k = 0`` means flat: every rank is a child of 0.
"""

from __future__ import annotations

__all__ = ["Topology"]


class Topology:
    """The tree shape for ``size`` ranks with fanout ``k``.

    Raises
    ------
    ValueError
        If ``size < 1`` or ``k < 0``.
    """

    __slots__ = ("k", "size")

    def __init__(self, size: int, k: int = 2):
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive integer, not {size!r}")
        if not isinstance(k, int) or k < 0:
            raise ValueError(f"tbon.fanout must be a non-negative integer, not {k!r}")
        self.size = size
        self.k = k if k > 0 else max(size - 1, 1)

    def parent(self, rank: int) -> int | None:
        return None if rank == 0 else (rank - 1) // self.k

    def children(self, rank: int) -> list[int]:
        first = self.k * rank + 1
        return list(range(first, min(first + self.k, self.size)))

    def level(self, rank: int) -> int:
        n = 0
        while rank:
            rank = (rank - 1) // self.k
            n += 1
        return n

    def maxlevel(self) -> int:
        return self.level(self.size - 1)

    def descendants(self, rank: int) -> int:
        """Number of ranks strictly below ``rank``."""
        count, frontier = 0, self.children(rank)
        while frontier:
            count += len(frontier)
            frontier = [c for r in frontier for c in self.children(r)]
        return count

    def subtree(self, rank: int) -> list[int]:
        out, frontier = [], [rank]
        while frontier:
            out.extend(frontier)
            frontier = [c for r in frontier for c in self.children(r)]
        return sorted(out)

    def next_hop(self, rank: int, target: int) -> int | None:
        """The neighbour of ``rank`` on the path to ``target``.

        Returns the child whose subtree holds ``target``, or the parent
        (``None`` when ``rank`` is the root and ``target`` is not below it).
        """
        k = self.k
        t = target
        while t > rank:
            p = (t - 1) // k
            if p == rank:
                return t
            t = p
        return self.parent(rank)
