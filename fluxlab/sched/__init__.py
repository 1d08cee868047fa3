"""Graph scheduler (Fluxion-style): resource graph, matching, planner, queues."""

__all__: list[str] = []
