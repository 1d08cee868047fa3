"""Jobs: the pure layers (job ids, durations, eventlogs, states, jobspec, info).

This package re-exports only pure pieces that import nothing heavier than the
standard library (YAML is imported lazily by the jobspec readers), so the
command line can import it quickly.  Services (ingest, manager, list) and the
client verbs live in their own modules and are not imported here.
"""

from fluxlab.job.dependency import DependencyError, dependency_array_create, parse_dependency
from fluxlab.job.duration import DurationError, fsd, parse_fsd
from fluxlab.job.eventlog import EventlogError, EventLogEvent, parse_eventlog
from fluxlab.job.info import JobInfo, JobInfoError
from fluxlab.job.info_format import JobInfoFormat, job_fields_to_attrs
from fluxlab.job.jobid import FluidGenerator, JobID, JobIDError, id_encode, id_parse
from fluxlab.job.jobspec import NEST_COMMAND, Jobspec, JobspecError, JobspecV1, validate_jobspec
from fluxlab.job.record import JobRecord
from fluxlab.job.states import JobResult, JobState, JobStateError
from fluxlab.job.urgency import URGENCY_DEFAULT, UrgencyError, parse_urgency

__all__ = [
    "dependency_array_create",
    "DependencyError",
    "DurationError",
    "EventlogError",
    "EventLogEvent",
    "FluidGenerator",
    "fsd",
    "id_encode",
    "id_parse",
    "job_fields_to_attrs",
    "JobID",
    "JobIDError",
    "JobInfo",
    "JobInfoError",
    "JobInfoFormat",
    "JobRecord",
    "JobResult",
    "Jobspec",
    "JobspecError",
    "JobspecV1",
    "JobState",
    "JobStateError",
    "NEST_COMMAND",
    "parse_dependency",
    "parse_eventlog",
    "parse_fsd",
    "parse_urgency",
    "URGENCY_DEFAULT",
    "UrgencyError",
    "validate_jobspec",
]
