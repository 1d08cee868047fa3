"""Local-process instances: ``fluxlab start --test-size=N [COMMAND ...]``.

The launcher forks one broker process per rank (forking after the imports
keeps start-up fast), runs a bootstrap service through which brokers swap
overlay endpoints, waits for the instance to reach RUN, and then runs
COMMAND with ``FLUXLAB_URI`` set — or, without a command, prints the URI and
stays up until stopped (``fluxlab shutdown``, Ctrl-C or SIGTERM).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import zmq

from fluxlab.core.errors import FluxError
from fluxlab.transport import context, keygen

__all__ = ["LocalInstance", "run_start"]


class LocalInstance:
    """N broker processes on this host.

    Parameters
    ----------
    size, fanout, transport, statedir, rundir, modules, attrs, conf
        As for :class:`fluxlab.instance.Instance`.
    cert_path : str, optional
        CURVE certificate for ``tcp`` (created in the run directory if omitted).
    timeout : float
        Seconds to wait for bootstrap and quorum.
    """

    def __init__(
        self,
        size: int,
        *,
        fanout: int = 2,
        transport: str = "ipc",
        statedir: str | None = None,
        rundir: str | None = None,
        modules: list | None = None,
        attrs: dict | None = None,
        conf: dict | None = None,
        cert_path: str | None = None,
        timeout: float = 60.0,
        exec_brokers: bool = False,
    ):
        if not isinstance(size, int) or size < 1:
            raise ValueError(f"--test-size must be a positive integer, not {size!r}")
        if transport not in ("ipc", "tcp"):
            raise ValueError(f"transport {transport!r} cannot link processes: use ipc or tcp")
        self.size = size
        self._own_rundir = rundir is None
        self.rundir = rundir or tempfile.mkdtemp(prefix="fluxlab-")
        os.makedirs(self.rundir, exist_ok=True)
        if statedir:
            os.makedirs(statedir, exist_ok=True)
        if transport == "tcp" and not cert_path:
            cert_path = os.path.join(self.rundir, "curve.cert")
            keygen(cert_path, force=True)
        cfg = {
            "fanout": fanout,
            "transport": transport,
            "rundir": self.rundir,
            "statedir": statedir,
            "attrs": {k: str(v) for k, v in (attrs or {}).items()},
            "conf": conf or {},
            "cert": cert_path,
            "instance_id": os.path.basename(self.rundir),
        }
        if modules is not None:
            cfg["modules"] = [list(m) for m in modules]
        self.pids: dict[int, int] = {}
        self.uris: dict[int, str] = {}
        boot_uri = f"ipc://{self.rundir}/bootstrap"
        if not exec_brokers:
            _preimport(modules)
        for rank in range(size):
            if exec_brokers:
                env = dict(
                    os.environ,
                    FLUXLAB_RANK=str(rank),
                    FLUXLAB_SIZE=str(size),
                    FLUXLAB_BOOTSTRAP=boot_uri,
                    FLUXLAB_BROKER_CONFIG=json.dumps(cfg),
                )
                p = subprocess.Popen([sys.executable, "-m", "fluxlab.broker"], env=env)
                self.pids[rank] = p.pid
                continue
            pid = os.fork()
            if pid == 0:  # broker process
                code = 1
                try:
                    from fluxlab.broker.process import broker_main

                    code = broker_main(rank, size, boot_uri, cfg)
                except BaseException as e:  # noqa: BLE001 - report and exit
                    os.write(2, f"fluxlab broker rank {rank}: {type(e).__name__}: {e}\n".encode())
                finally:
                    os._exit(code)
            self.pids[rank] = pid
        try:
            self._serve_bootstrap(boot_uri, timeout)
            self._wait_run(timeout)
        except BaseException:
            self.kill_all()
            self._cleanup()
            raise

    @property
    def uri(self) -> str:
        return self.uris[0]

    def _serve_bootstrap(self, boot_uri: str, timeout: float) -> None:
        sock = context().socket(zmq.ROUTER)
        sock.bind(boot_uri)
        endpoints: dict[int, str] = {}
        waiting: list[tuple[bytes, int]] = []
        answered = 0
        need = sum(1 for r in range(self.size) if r > 0)
        deadline = time.monotonic() + timeout
        try:
            while len(endpoints) < self.size or answered < need:
                self._check_children()
                if time.monotonic() > deadline:
                    raise FluxError(
                        errno.ETIMEDOUT,
                        f"bootstrap: only {len(endpoints)} of {self.size} "
                        f"brokers registered within {timeout}s",
                    )
                if not sock.poll(100):
                    continue
                ident, data = sock.recv_multipart()
                req = json.loads(data)
                if req["op"] == "put":
                    endpoints[req["rank"]] = req["endpoint"]
                    self.uris[req["rank"]] = req["uri"]
                    sock.send_multipart([ident, b"{}"])
                else:
                    waiting.append((ident, req["rank"]))
                still = []
                for ident, want in waiting:
                    if want in endpoints:
                        sock.send_multipart(
                            [ident, json.dumps({"endpoint": endpoints[want]}).encode()]
                        )
                        answered += 1
                    else:
                        still.append((ident, want))
                waiting = still
        finally:
            sock.close(linger=200)
            try:
                os.unlink(boot_uri[len("ipc://") :])
            except OSError:
                pass

    def _wait_run(self, timeout: float) -> None:
        from fluxlab.core.handle import Flux

        h = Flux(self.uri)
        try:
            fut = h.rpc("broker.state-wait", {"state": "run"})
            deadline = time.monotonic() + timeout
            while True:
                self._check_children()
                try:
                    fut.wait_for(0.2)
                    break
                except TimeoutError:
                    if time.monotonic() > deadline:
                        raise FluxError(
                            errno.ETIMEDOUT, f"instance did not reach quorum within {timeout}s"
                        ) from None
            fut.get()
        finally:
            h.close()

    def _check_children(self) -> None:
        for rank, pid in self.pids.items():
            try:
                done, status = os.waitpid(pid, os.WNOHANG)
            except ChildProcessError:
                continue
            if done:
                self.pids[rank] = -1
                raise FluxError(
                    errno.ECHILD,
                    f"broker rank {rank} exited during start-up "
                    f"(status {os.waitstatus_to_exitcode(status)})",
                )

    def alive(self, rank: int) -> bool:
        pid = self.pids.get(rank, -1)
        if pid <= 0:
            return False
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return False
        if done:
            self.pids[rank] = -1
            return False
        return True

    def kill(self, rank: int, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` to the broker process of ``rank`` (fault testing)."""
        os.kill(self.pids[rank], sig)

    def shutdown(self, timeout: float = 30.0) -> None:
        """Ask rank 0 to shut the instance down and reap every broker."""
        if self.alive(0):
            try:
                from fluxlab.core.handle import Flux

                with Flux(self.uri) as h:
                    h.rpc("broker.shutdown", {"reason": "launcher shutdown"}, nodeid=0).get(
                        timeout=5
                    )
            except (FluxError, OSError):
                pass
        self.wait(timeout)
        self._cleanup()

    def wait(self, timeout: float | None = None) -> None:
        deadline = None if timeout is None else time.monotonic() + timeout
        for rank, pid in self.pids.items():
            if pid <= 0:
                continue
            while True:
                try:
                    done, _ = os.waitpid(pid, os.WNOHANG)
                except ChildProcessError:
                    break
                if done:
                    break
                if deadline is not None and time.monotonic() > deadline:
                    try:
                        os.kill(pid, signal.SIGKILL)
                        os.waitpid(pid, 0)
                    except (ProcessLookupError, ChildProcessError):
                        pass
                    break
                time.sleep(0.02)
            self.pids[rank] = -1

    def kill_all(self) -> None:
        for pid in self.pids.values():
            if pid > 0:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
        self.pids = {r: -1 for r in self.pids}

    def _cleanup(self) -> None:
        if self._own_rundir:
            shutil.rmtree(self.rundir, ignore_errors=True)

    def __enter__(self) -> LocalInstance:
        return self

    def __exit__(self, *exc) -> None:
        self.shutdown()


def _preimport(modules: list | None) -> None:
    """Import the broker and its service modules before forking.

    Every forked broker then starts with them loaded (copy-on-write) instead
    of importing them N times over, which is most of start-up time.
    """
    from fluxlab.broker.broker import Broker  # noqa: F401
    from fluxlab.broker.config import DEFAULT_MODULES
    from fluxlab.broker.modules import ModuleLoadError, find_module_class
    from fluxlab.broker.process import broker_main  # noqa: F401

    for name, _ranks, _args in modules if modules is not None else DEFAULT_MODULES:
        try:
            find_module_class(name)
        except ModuleLoadError:
            pass  # reported by the broker that loads it
    try:  # host discovery is cached per process: do it once, before the forks
        from fluxlab.resource.discover import local_resources

        local_resources()
    except Exception:  # noqa: BLE001 - each broker reports its own failure
        pass


def run_start(size: int, command: list[str], *, out=None, **kwargs) -> int:
    """``fluxlab start``: bring up ``size`` brokers, run ``command``, shut down.

    Returns the command's exit status (or 0 when run without a command and
    stopped cleanly).
    """
    out = out or sys.stdout
    inst = LocalInstance(size, **kwargs)
    status = 0
    stop = {"flag": False}

    def on_signal(signum, frame):
        stop["flag"] = True

    old_int = signal.signal(signal.SIGINT, on_signal)
    old_term = signal.signal(signal.SIGTERM, on_signal)
    try:
        env = dict(os.environ, FLUXLAB_URI=inst.uri)
        if command:
            try:
                proc = subprocess.Popen(command, env=env)
            except OSError as e:
                print(f"fluxlab start: {command[0]}: {e.strerror}", file=sys.stderr)
                return 127
            while True:
                try:
                    status = proc.wait(0.2)
                    break
                except subprocess.TimeoutExpired:
                    if stop["flag"]:
                        proc.send_signal(signal.SIGINT)
                        stop["flag"] = False
                    if not inst.alive(0):
                        print("fluxlab start: rank 0 broker died", file=sys.stderr)
                        proc.terminate()
                        status = proc.wait()
                        break
            if status < 0:
                status = 128 - status
        else:
            print(inst.uri, file=out, flush=True)
            while not stop["flag"] and inst.alive(0):
                time.sleep(0.2)
    finally:
        signal.signal(signal.SIGINT, old_int)
        signal.signal(signal.SIGTERM, old_term)
        inst.shutdown()
    return status
