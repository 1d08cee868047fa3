"""Start, stop and connect to instances (embedded, local processes)."""

from fluxlab.instance.embedded import Instance, start

__all__ = ["Instance", "start"]
