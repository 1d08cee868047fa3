"""The CLI's fast exit terminates the zmq context: it must never hang."""

import subprocess
import sys

CODE = """
import zmq
from fluxlab.transport import context
from fluxlab.transport.base import context_term
s = context().socket(zmq.DEALER)
s.connect("ipc:///nonexistent/fluxlab-test.sock")
s.send(b"never deliverable")  # a socket left open with a message queued
context_term()
c = context()  # a fresh context works afterwards
assert c is not None and not c.closed
print("done")
"""


def test_context_term_closes_open_sockets_instead_of_hanging():
    out = subprocess.run([sys.executable, "-c", CODE], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "done"
