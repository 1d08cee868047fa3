"""Child processes driven by a broker reactor: pipes, exit, signals.

A :class:`Proc` starts one task process in its own session (so a signal to
the task reaches everything it spawned), reads its stdout/stderr without
blocking from the reactor, and reports its exit through a pidfd.  The exit
callback fires only after the process has exited *and* both output pipes
reached EOF (or the process exited and a grace period passed, for tasks whose
grandchildren keep the pipes open), so no output is lost or reordered after
the exit report.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
from collections.abc import Callable

from fluxlab.core.reactor import Reactor

__all__ = ["Proc", "ProcError", "exit_code"]

_READ = 65536


class ProcError(OSError):
    """The task could not be started (missing program, bad cwd ...)."""


def exit_code(status: int) -> int:
    """Shell-style exit code from a wait status (128+N for signal N)."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def _open_stdin(data: bytes | None, path: str | None):
    """A file object for the task's stdin, or None for /dev/null."""
    if path is not None:
        try:
            return open(path, "rb")  # closed by Proc after the fork
        except OSError as e:
            raise ProcError(
                e.errno or errno.EINVAL, f"error opening input file '{path}': {e.strerror}"
            ) from e
    if data is None:
        return None
    fd = os.memfd_create("fluxlab-stdin", os.MFD_CLOEXEC)
    f = os.fdopen(fd, "w+b")
    f.write(data)
    f.flush()
    f.seek(0)
    return f


class Proc:
    """One running task.

    Parameters
    ----------
    reactor : Reactor
        The broker reactor that watches the pipes and the pidfd.
    argv, env, cwd
        What to run (``env`` replaces the environment entirely).
    on_output : callable(stream, bytes)
        Called with each chunk read from ``"stdout"`` or ``"stderr"``.
    on_exit : callable(Proc)
        Called once, after exit and EOF; :attr:`status` holds the wait status.
    stdin : bytes, optional
        The task's whole stdin.  It is placed in an anonymous in-memory file
        (``memfd``) that the task reads, so no pipe write can block the
        reactor however large it is.
    stdin_path : str, optional
        A file the task reads as its stdin (opened here, read-only).  With
        neither ``stdin`` nor ``stdin_path`` stdin is ``/dev/null``.
    exit_grace : float
        Seconds to wait for EOF on the output pipes after the process exited
        (grandchildren may keep them open).

    Raises
    ------
    ProcError
        If the program cannot be executed; ``errno`` tells why.
    """

    def __init__(
        self,
        reactor: Reactor,
        argv: list[str],
        env: dict[str, str],
        cwd: str | None,
        on_output: Callable[[str, bytes], None],
        on_exit: Callable[[Proc], None],
        stdin: bytes | None = None,
        exit_grace: float = 1.0,
        stdin_path: str | None = None,
    ):
        self.reactor = reactor
        self.on_output = on_output
        self.on_exit = on_exit
        self.status: int | None = None
        self._open = {"stdout", "stderr"}
        self._reported = False
        self._grace = exit_grace
        stdin_file = _open_stdin(stdin, stdin_path)
        try:
            self.popen = subprocess.Popen(
                argv,
                env=env,
                cwd=cwd or None,
                start_new_session=True,
                stdin=stdin_file if stdin_file is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                close_fds=True,
            )
        except FileNotFoundError as e:
            what = "working directory" if cwd and not os.path.isdir(cwd) else "program"
            target = cwd if what == "working directory" else argv[0]
            raise ProcError(errno.ENOENT, f"{target}: {what} not found") from e
        except PermissionError as e:
            raise ProcError(errno.EACCES, f"{argv[0]}: permission denied") from e
        except OSError as e:
            raise ProcError(e.errno or errno.EINVAL, f"{argv[0]}: {e.strerror}") from e
        finally:
            if stdin_file is not None:
                stdin_file.close()
        self.pid = self.popen.pid
        self._fds = {}
        for name, f in (("stdout", self.popen.stdout), ("stderr", self.popen.stderr)):
            fd = f.fileno()
            os.set_blocking(fd, False)
            self._fds[name] = fd
            reactor.add_reader(fd, lambda n=name: self._on_readable(n))
        self._pidfd = os.pidfd_open(self.pid)
        reactor.add_reader(self._pidfd, self._on_pidfd)

    def _on_readable(self, name: str) -> None:
        fd = self._fds[name]
        while True:
            try:
                data = os.read(fd, _READ)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_stream(name)
                return
            self.on_output(name, data)

    def _close_stream(self, name: str) -> None:
        if name in self._open:
            self._open.discard(name)
            self.reactor.remove_reader(self._fds[name])
            getattr(self.popen, name).close()
        self._maybe_done()

    def _on_pidfd(self) -> None:
        self.reactor.remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = -1
        try:
            _, status = os.waitpid(self.pid, 0)
        except ChildProcessError:
            status = 0
        self.status = status
        self.popen.returncode = exit_code(status)
        if self._open:
            # grandchildren may hold the pipes open: read what is there, then stop waiting
            self.reactor.call_later(self._grace, self._force_done)
        self._maybe_done()

    def _force_done(self) -> None:
        for name in list(self._open):
            self._on_readable(name)
            self._close_stream(name)

    def _maybe_done(self) -> None:
        if self.status is not None and not self._open and not self._reported:
            self._reported = True
            self.on_exit(self)

    @property
    def running(self) -> bool:
        return self.status is None

    def signal(self, signum: int) -> None:
        """Send ``signum`` to the task's whole process group."""
        if self.status is not None:
            return
        try:
            os.killpg(self.pid, signum)
        except ProcessLookupError:
            pass
        except PermissionError:
            try:
                os.kill(self.pid, signum)
            except ProcessLookupError:
                pass

    def kill(self) -> None:
        self.signal(signal.SIGKILL)

    def kill_group(self) -> None:
        """SIGKILL whatever is left of the task's process group (after it exited).

        A task may leave background processes behind; they share its process
        group, whose id stays reserved while any member lives, so this
        cannot hit an unrelated process.
        """
        try:
            os.killpg(self.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
