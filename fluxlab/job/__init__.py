"""Jobs: the pure layers (job ids, durations, eventlogs, states, jobspec, info).

Every public name is loaded on first use (PEP 562), so importing one
submodule (the command line's ``fluxlab.job.event``, say) does not pull in
the jobspec machinery.  ``fluxlab.job.submit`` and friends have Flux's names.
"""

import sys
import types

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

#: Client verbs and services, loaded on first use so ``import fluxlab.job``
#: stays light for the command line (``fluxlab.job.submit`` still works).
_LAZY = {
    # pure pieces (also lazy: `import fluxlab.job.event` must not pull in jobspec)
    "DependencyError": "dependency",
    "DurationError": "duration",
    "EventLogEvent": "eventlog",
    "EventlogError": "eventlog",
    "FluidGenerator": "jobid",
    "JobID": "jobid",
    "JobIDError": "jobid",
    "JobInfo": "info",
    "JobInfoError": "info",
    "JobInfoFormat": "info_format",
    "JobRecord": "record",
    "JobResult": "states",
    "JobState": "states",
    "JobStateError": "states",
    "Jobspec": "jobspec",
    "JobspecError": "jobspec",
    "JobspecV1": "jobspec",
    "NEST_COMMAND": "jobspec",
    "URGENCY_DEFAULT": "urgency",
    "UrgencyError": "urgency",
    "dependency_array_create": "dependency",
    "fsd": "duration",
    "id_encode": "jobid",
    "id_parse": "jobid",
    "job_fields_to_attrs": "info_format",
    "parse_dependency": "dependency",
    "parse_eventlog": "eventlog",
    "parse_fsd": "duration",
    "parse_urgency": "urgency",
    "validate_jobspec": "jobspec",
    "submit": "submit",
    "submit_async": "submit",
    "SubmitFuture": "submit",
    "submit_get_id": "submit",
    "submit_bulk_async": "submit",
    "wait": "wait",
    "wait_async": "wait",
    "wait_get_status": "wait",
    "JobWaitResult": "wait",
    "cancel": "kill",
    "cancel_async": "kill",
    "kill": "kill",
    "kill_async": "kill",
    "job_raise": "kill",
    "job_raise_async": "kill",
    "event_watch": "event",
    "event_watch_async": "event",
    "event_wait": "event",
    "JobEventWatchFuture": "event",
    "JobException": "event",
    "result": "result",
    "result_async": "result",
    "JobResultFuture": "result",
    "job_list": "list",
    "job_list_id": "list",
    "job_list_inactive": "list",
    "JobList": "list",
    "get_job": "list",
    "FluxExecutor": "executor",
    "FluxExecutorFuture": "executor",
    "output_watch": "output",
    "output_watch_lines": "output",
    "output_event_watch": "output",
    "job_kvs": "kvs_lookup",
    "job_kvs_guest": "kvs_lookup",
    "job_kvs_lookup": "kvs_lookup",
}
MAIN_EVENTS = frozenset(
    {
        "submit",
        "validate",
        "depend",
        "priority",
        "flux-restart",
        "urgency",
        "alloc",
        "free",
        "start",
        "release",
        "finish",
        "clean",
        "debug",
        "exception",
        "memo",
    }
)
__all__ = sorted({*__all__, *_LAZY, "MAIN_EVENTS"})


def __getattr__(name: str):
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'fluxlab.job' has no attribute {name!r}")
    import importlib

    module = importlib.import_module(f"fluxlab.job.{mod}")
    # importing fluxlab.job.wait (etc.) binds the *module* to the package
    # attribute of the same name: bind every verb of that module instead
    for verb, where in _LAZY.items():
        if where == mod:
            globals()[verb] = getattr(module, verb)
    return globals()[name]


class _JobPackage(types.ModuleType):
    """``fluxlab.job`` itself: keeps Flux's names bound to the verbs.

    Importing the submodule ``fluxlab.job.submit`` makes Python bind the
    *module* as the package attribute ``submit``, hiding the function of the
    same name (Flux avoids this by importing everything eagerly).  Here the
    binding is intercepted and the verb is bound instead.
    """

    def __setattr__(self, name: str, value) -> None:
        if (
            isinstance(value, types.ModuleType)
            and _LAZY.get(name) == name
            and value.__name__ == f"{__name__}.{name}"
        ):
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _JobPackage
