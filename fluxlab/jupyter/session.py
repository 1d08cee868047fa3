"""The instance a notebook kernel's magics (and widgets) use.

One :class:`Session` per kernel.  It owns either an embedded instance (brokers
in the kernel), a persistent local instance (``fluxlab start`` processes that
outlive the kernel), or just a connection to a URI.  Whatever it uses is
exported as ``FLUXLAB_URI`` in the kernel's environment, so ``!fluxlab``
shell cells, ``fluxlab.Flux()`` and job subprocesses reach the same instance.
"""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time

import fluxlab
from fluxlab.core.errors import FluxError

__all__ = ["NOTEBOOK_MODULES", "NoInstanceError", "Session", "get_session", "persist_file"]

#: What a notebook's embedded instance loads: the job services, a scheduler and
#: execution, so that ``%flux run`` works out of the box.  Modules not (yet)
#: provided by this fluxlab are left out; once the broker's own default set
#: holds the job services the instance default is used unchanged.
NOTEBOOK_MODULES: list[tuple[str, str, list[str]]] = [
    ("heartbeat", "0", []),
    ("kvs", "0", []),
    ("resource", "all", []),
    ("job-ingest", "0", []),
    ("job-manager", "0", []),
    ("job-list", "0", []),
    ("job-info", "0", []),
    ("sched-simple", "0", []),
    ("job-exec", "0", []),
    ("exec", "all", []),
]


class NoInstanceError(FluxError):
    """No instance is in use and none may be started implicitly (the user
    stopped the last one, or the one in use has gone away)."""

    def __init__(self, message: str):
        super().__init__(errno.ENOTCONN, message)


def notebook_modules() -> list[tuple[str, str, list[str]]] | None:
    """Module list for an embedded notebook instance (None: the broker default)."""
    from fluxlab.broker.config import DEFAULT_MODULES
    from fluxlab.broker.modules import known_modules

    if any(name == "job-manager" for name, _, _ in DEFAULT_MODULES):
        return None
    known = known_modules()
    return [m for m in NOTEBOOK_MODULES if m[0] in known]


def persist_file() -> str:
    """Where the URI of the persistent instance is remembered across kernels."""
    base = os.environ.get("FLUXLAB_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".fluxlab")
    return os.path.join(base, "persistent.json")


class Session:
    """What the magics are connected to."""

    def __init__(self):
        self.instance = None  # embedded fluxlab.Instance
        self.proc_pid: int | None = None  # persistent launcher
        self.uri: str | None = None
        self.kind = ""  # "embedded" | "persistent" | "connected"
        self._h = None
        #: URI of the instance ``%flux stop`` stopped (no implicit restart then)
        self.stopped_uri: str | None = None

    # -- state -------------------------------------------------------------
    @property
    def active(self) -> bool:
        return self.uri is not None

    @property
    def h(self):
        """A handle to the session's instance (connected lazily, reused)."""
        if self.uri is None:
            raise FluxError(
                errno.ENOTCONN,
                "no fluxlab instance: run `%flux start` (embedded) or `%flux connect URI` first",
            )
        if self._h is None or self._h._dead is not None or self._h._closed:
            self._h = fluxlab.Flux(self.uri)
        return self._h

    def _export(self, uri: str | None) -> None:
        if uri:
            os.environ["FLUXLAB_URI"] = uri
        else:
            os.environ.pop("FLUXLAB_URI", None)

    # -- start/connect/stop ----------------------------------------------------
    def start(
        self, size: int = 1, persist: bool = False, attrs: dict | None = None, **kwargs
    ) -> str:
        """Start an instance and make it the session's; returns its URI."""
        if self.active:
            raise FluxError(
                errno.EEXIST,
                f"an instance is already in use ({self.kind}, {self.uri}); run `%flux stop` first",
            )
        if persist:
            uri = self._start_persistent(size, attrs or {})
            self.kind = "persistent"
        else:
            if "modules" not in kwargs:
                kwargs["modules"] = notebook_modules()
            self.instance = fluxlab.start(size=size, attrs=attrs, **kwargs)
            uri = self.instance.uri
            self.kind = "embedded"
        self.uri = uri
        self.stopped_uri = None
        self._export(uri)
        return uri

    def _start_persistent(self, size: int, attrs: dict) -> str:
        cmd = [sys.executable, "-m", "fluxlab", "start", f"--test-size={size}"]
        for k, v in attrs.items():
            cmd += ["-S", f"{k}={v}"]
        proc = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            text=True,
        )
        uri = proc.stdout.readline().strip()
        if not uri:
            proc.wait(10)
            raise FluxError(errno.EIO, "the persistent instance failed to start")
        self.proc_pid = proc.pid
        path = persist_file()
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            json.dump({"uri": uri, "pid": proc.pid, "size": size, "started": time.time()}, f)
        return uri

    def connect(self, uri: str) -> str:
        if self.active:
            raise FluxError(errno.EEXIST, f"already using {self.uri}; run `%flux stop` first")
        h = fluxlab.Flux(uri)
        h.rpc("broker.ping").get(timeout=10)
        self._h, self.uri, self.kind = h, uri, "connected"
        self.stopped_uri = None
        self._export(uri)
        return uri

    def stop(self) -> str:
        """Stop (embedded/persistent) or disconnect; returns what was done."""
        if not self.active:
            raise FluxError(errno.ENOTCONN, "no fluxlab instance is in use")
        kind, uri = self.kind, self.uri
        if self._h is not None:
            if kind == "persistent":
                try:
                    self._h.rpc("broker.shutdown", {"reason": "%flux stop"}, nodeid=0).get(
                        timeout=10
                    )
                except (FluxError, OSError):
                    pass
            self._h.close()
            self._h = None
        elif kind == "persistent":
            try:
                with fluxlab.Flux(uri) as h:
                    h.rpc("broker.shutdown", {"reason": "%flux stop"}, nodeid=0).get(timeout=10)
            except (FluxError, OSError):
                pass  # already gone: forgetting it is all that is left to do
        if self.instance is not None:
            self.instance.stop()
            self.instance = None
        if kind == "persistent":
            try:
                os.unlink(persist_file())
            except OSError:
                pass
        self.uri, self.kind, self.proc_pid = None, "", None
        self.stopped_uri = uri
        self._export(None)
        return {"embedded": "stopped", "persistent": "stopped", "connected": "disconnected from"}[
            kind
        ] + f" {uri}"

    def ensure(self, default_size: int = 1) -> str | None:
        """Make sure an instance is in use; returns a note when one was started.

        Order: the session's own; ``$FLUXLAB_URI`` (a kernel started inside
        ``fluxlab start``); a persistent instance remembered from an earlier
        kernel; otherwise a new embedded instance.
        """
        if self.active:
            if not self.alive():
                raise NoInstanceError(
                    f"the {self.kind} instance at {self.uri} is not running any more; "
                    "run `%flux stop` to forget it, then `%flux start` (or `%flux connect URI`)"
                )
            return None
        if self.stopped_uri is not None:
            raise NoInstanceError(
                f"no instance: the one at {self.stopped_uri} was stopped with `%flux stop`; "
                "run `%flux start` to start a new one or `%flux connect URI`"
            )
        env = os.environ.get("FLUXLAB_URI")
        unreachable = ""
        if env:
            try:
                self.connect(env)
                return f"connected to the instance at FLUXLAB_URI={env}"
            except (FluxError, OSError):
                unreachable = f"FLUXLAB_URI={env} does not answer; "
        path = persist_file()
        if os.path.exists(path):
            try:
                with open(path) as f:
                    uri = json.load(f)["uri"]
                self.connect(uri)
                self.kind = "persistent"
                return f"{unreachable}reconnected to the persistent instance at {uri}"
            except (FluxError, OSError, ValueError, KeyError):
                pass
        uri = self.start(default_size)
        return f"{unreachable}started an embedded fluxlab instance (size {default_size}) at {uri}"

    def alive(self) -> bool:
        """True if the instance in use still answers (a cheap local check first)."""
        if not self.active:
            return False
        if self.instance is not None and not self.instance.running:
            return False
        try:
            self.h.rpc("broker.ping", nodeid=0).get(timeout=5)
        except (FluxError, OSError):
            self._h = None
            return False
        return True

    def status(self) -> dict:
        if not self.active:
            return {"active": False}
        h = self.h
        return {
            "active": True,
            "kind": self.kind,
            "uri": self.uri,
            "size": int(h.attr_get("size")),
            "state": h.rpc("broker.state", nodeid=0).get(timeout=10)["state"],
            "version": h.attr_get("version"),
        }


_SESSION: Session | None = None


def get_session() -> Session:
    global _SESSION
    if _SESSION is None:
        _SESSION = Session()
    return _SESSION
