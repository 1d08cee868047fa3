"""Graph scheduler modelled on Fluxion: resource graph, matching, planner, queues.

Runs without a broker.  The main entry points:

* :func:`load_graph` / :func:`fake_nodes` / :func:`local_machine` build a
  :class:`ResourceGraph` (GRUG, JGF, Rv1, this host, or N fake nodes);
* :class:`ResourceQuery` matches jobspecs against it with a Fluxion match
  policy and tracks allocations and reservations over time (the common
  "match now" requests go through the indexed :class:`FastIndex`);
* :class:`QueueManager` applies a queue policy (fcfs, easy, conservative,
  hybrid) and returns scheduling decisions;
* :func:`to_jgf`, :func:`to_rv1`, :func:`to_tree` write graphs out.

See ``docs/spec/sched-library.md``.
"""

from fluxlab.sched.constraint import Constraint
from fluxlab.sched.context import ENGINES, JobInfo, MatchResult, ResourceQuery
from fluxlab.sched.dfu import MATCH_OPS, Traverser
from fluxlab.sched.errors import GraphError, JobspecError, MatchError, PlannerError, SchedError
from fluxlab.sched.export import to_jgf, to_rv1, to_tree
from fluxlab.sched.fast import FastIndex
from fluxlab.sched.graph import ResourceGraph
from fluxlab.sched.jobspec import Jobspec, Resource, Task, parse_jobspec
from fluxlab.sched.planner import Planner, PlannerMulti
from fluxlab.sched.policies import POLICIES, create_policy
from fluxlab.sched.queue import QUEUE_POLICIES, Decision, QueueManager
from fluxlab.sched.readers import fake_nodes, load_graph, local_machine
from fluxlab.sched.readers.grug import make_recipe
from fluxlab.sched.traverser import JobMeta
from fluxlab.sched.writers import FORMATS, create_writer

__all__ = [
    "Constraint",
    "Decision",
    "ENGINES",
    "FORMATS",
    "FastIndex",
    "GraphError",
    "JobInfo",
    "JobMeta",
    "Jobspec",
    "JobspecError",
    "MATCH_OPS",
    "MatchError",
    "MatchResult",
    "POLICIES",
    "Planner",
    "PlannerError",
    "PlannerMulti",
    "QUEUE_POLICIES",
    "QueueManager",
    "Resource",
    "ResourceGraph",
    "ResourceQuery",
    "SchedError",
    "Task",
    "Traverser",
    "create_policy",
    "create_writer",
    "fake_nodes",
    "load_graph",
    "local_machine",
    "make_recipe",
    "parse_jobspec",
    "to_jgf",
    "to_rv1",
    "to_tree",
]
