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

__all__ = ["Session", "get_session", "persist_file"]


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
            self.instance = fluxlab.start(size=size, attrs=attrs, **kwargs)
            uri = self.instance.uri
            self.kind = "embedded"
        self.uri = uri
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
            with fluxlab.Flux(uri) as h:
                h.rpc("broker.shutdown", {"reason": "%flux stop"}, nodeid=0).get(timeout=10)
        if self.instance is not None:
            self.instance.stop()
            self.instance = None
        if kind == "persistent":
            try:
                os.unlink(persist_file())
            except OSError:
                pass
        self.uri, self.kind, self.proc_pid = None, "", None
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
            return None
        env = os.environ.get("FLUXLAB_URI")
        if env:
            try:
                self.connect(env)
                return f"connected to the instance at FLUXLAB_URI={env}"
            except (FluxError, OSError):
                pass
        path = persist_file()
        if os.path.exists(path):
            try:
                with open(path) as f:
                    uri = json.load(f)["uri"]
                self.connect(uri)
                self.kind = "persistent"
                return f"reconnected to the persistent instance at {uri}"
            except (FluxError, OSError, ValueError, KeyError):
                pass
        uri = self.start(default_size)
        return f"started an embedded fluxlab instance (size {default_size}) at {uri}"

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
