"""Session: persistent instances survive the session (a kernel restart), stop cleanly."""

import os

import pytest

from fluxlab.jupyter.session import NoInstanceError, Session, persist_file


@pytest.fixture
def state_home(tmp_path, monkeypatch):
    monkeypatch.setenv("FLUXLAB_STATE_HOME", str(tmp_path))
    monkeypatch.delenv("FLUXLAB_URI", raising=False)
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    monkeypatch.setenv("PYTHONPATH", root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    return tmp_path


@pytest.mark.timeout(90)
def test_persistent_instance_outlives_its_session(state_home):
    first = Session()
    uri = first.start(2, persist=True)
    try:
        assert os.path.exists(persist_file()) and first.alive()
        assert os.environ["FLUXLAB_URI"] == uri
        os.environ.pop("FLUXLAB_URI")
        second = Session()  # a restarted kernel
        note = second.ensure()
        assert note == f"reconnected to the persistent instance at {uri}"
        assert second.status()["size"] == 2
    finally:
        assert first.stop() == f"stopped {uri}"
    assert not os.path.exists(persist_file())
    with pytest.raises(NoInstanceError, match="was stopped with `%flux stop`"):
        first.ensure()


def test_dead_embedded_instance_is_reported(state_home):
    s = Session()
    s.start(1)
    s.instance.stop()
    with pytest.raises(NoInstanceError, match="is not running any more"):
        s.ensure()
    assert s.stop().startswith("stopped")


def test_unreachable_fluxlab_uri_is_mentioned(state_home, monkeypatch):
    monkeypatch.setenv("FLUXLAB_URI", f"ipc://{state_home}/nothing-here")
    s = Session()
    note = s.ensure()
    try:
        assert note.startswith(f"FLUXLAB_URI=ipc://{state_home}/nothing-here does not answer")
        assert "started an embedded fluxlab instance" in note
    finally:
        s.stop()
