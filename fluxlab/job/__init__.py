"""Jobs: the pure layers (job ids, durations, eventlogs, states, jobspec, info).

This package re-exports only pure pieces that import nothing heavier than the
standard library (YAML is imported lazily by the jobspec readers), so the
command line can import it quickly.  Services (ingest, manager, list) and the
client verbs live in their own modules and are not imported here.
"""

from fluxlab.job.duration import DurationError, fsd, parse_fsd
from fluxlab.job.jobid import FluidGenerator, JobID, JobIDError, id_encode, id_parse

__all__ = [
    "DurationError",
    "FluidGenerator",
    "JobID",
    "JobIDError",
    "fsd",
    "id_encode",
    "id_parse",
    "parse_fsd",
]
