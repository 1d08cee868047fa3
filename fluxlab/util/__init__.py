"""Small pure helpers shared by several fluxlab packages (no I/O, no pyzmq)."""

__all__ = ["duration", "outputformat"]
