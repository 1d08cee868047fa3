"""A real IPython kernel for tests: run cells, collect outputs and widget messages."""

from __future__ import annotations

import os
import pathlib
import queue
import time
from typing import Any

ROOT = pathlib.Path(__file__).resolve().parents[2]


class CellResult:
    """What one executed cell produced."""

    def __init__(self, reply: dict, msgs: list[dict]):
        self.reply = reply
        self.msgs = msgs

    @property
    def ok(self) -> bool:
        return self.reply["content"]["status"] == "ok"

    @property
    def stdout(self) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.msgs
            if m["msg_type"] == "stream" and m["content"]["name"] == "stdout"
        )

    @property
    def stderr(self) -> str:
        return "".join(
            m["content"]["text"]
            for m in self.msgs
            if m["msg_type"] == "stream" and m["content"]["name"] == "stderr"
        )

    @property
    def data(self) -> list[dict]:
        """Mime bundles of display_data / execute_result messages."""
        return [
            m["content"]["data"]
            for m in self.msgs
            if m["msg_type"] in ("display_data", "execute_result")
        ]

    @property
    def error(self) -> str:
        errs = [m["content"] for m in self.msgs if m["msg_type"] == "error"]
        return "\n".join(f"{e['ename']}: {e['evalue']}" for e in errs)


class Kernel:
    """A kernel started with this checkout first on ``sys.path``."""

    def __init__(self, env: dict | None = None):
        from jupyter_client.manager import KernelManager

        kenv = dict(os.environ)
        kenv["PYTHONPATH"] = str(ROOT) + os.pathsep + kenv.get("PYTHONPATH", "")
        kenv.pop("FLUXLAB_URI", None)
        kenv.update(env or {})
        self.km = KernelManager(kernel_name="python3")
        self.km.start_kernel(env=kenv, cwd=str(ROOT))
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=60)
        #: every iopub message seen (widget comm traffic included)
        self.iopub: list[dict] = []

    def run(self, code: str, timeout: float = 60.0) -> CellResult:
        msgs: list[dict] = []

        def hook(msg):
            self.iopub.append(msg)
            msgs.append(msg)

        reply = self.kc.execute_interactive(code, output_hook=hook, timeout=timeout)
        return CellResult(reply, msgs)

    def start(self, code: str) -> str:
        """Send a cell without waiting (for interrupt tests); returns the msg id."""
        return self.kc.execute(code)

    def collect(self, msg_id: str, until, timeout: float = 30.0) -> list[dict]:
        """Read iopub messages of ``msg_id`` until ``until(msgs)`` is true."""
        out: list[dict] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                msg = self.kc.get_iopub_msg(timeout=0.2)
            except queue.Empty:
                continue
            self.iopub.append(msg)
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                out.append(msg)
                if until(out):
                    return out
        raise TimeoutError(f"condition not reached in {timeout}s; got {len(out)} messages")

    def idle(self, msgs: list[dict]) -> bool:
        return any(
            m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" for m in msgs
        )

    def comm_updates(self, since: int = 0) -> list[dict[str, Any]]:
        """``state`` dicts of widget update messages seen so far."""
        return [
            m["content"]["data"].get("state", {})
            for m in self.iopub[since:]
            if m["msg_type"] == "comm_msg" and m["content"]["data"].get("method") == "update"
        ]

    def drain(self, seconds: float) -> None:
        """Read iopub for ``seconds`` (background widget updates between cells)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                self.iopub.append(self.kc.get_iopub_msg(timeout=0.05))
            except queue.Empty:
                pass

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)
