"""job-info's pure helpers: eventlog chunk following and output completion."""

import pytest

from fluxlab.exec.output import eof_context, header_context, redirect_context
from fluxlab.job.eventlog import EventlogError, encode_event
from fluxlab.job.info_service import EventlogFollower, OutputCompletion


def line(name, **ctx):
    return encode_event(name, 1.0, ctx or None)


def test_follower_handles_split_lines_and_counts():
    f = EventlogFollower("job 1 eventlog")
    first = line("submit", urgency=16)
    text = first + line("depend") + line("clean")
    cut = len(first) + 5
    assert f.feed(text[:10]) == []
    events = f.feed(text[10:cut])
    assert [e["name"] for e in events] == ["submit"]
    assert [e["name"] for e in f.feed(text[cut:])] == ["depend", "clean"]
    assert f.nlines == 3


def test_follower_full_read_skips_what_was_seen():
    f = EventlogFollower("x")
    log = line("a") + line("b")
    f.feed(line("a"))
    assert [e["name"] for e in f.feed_full(log)] == ["b"]
    assert f.feed_full(log) == []
    assert [e["name"] for e in f.feed_full(log + line("c"))] == ["c"]


def test_follower_bad_line_names_line():
    f = EventlogFollower("job 7 guest.output")
    with pytest.raises(EventlogError, match="job 7 guest.output line 2"):
        f.feed(line("a") + "not json\n")


def ev(name, ctx):
    return {"timestamp": 1.0, "name": name, "context": ctx}


def test_output_complete_after_all_eofs():
    c = OutputCompletion()
    assert not c.feed(ev("header", header_context(2)))
    for rank in (0, 1):
        assert not c.feed(ev("data", {"stream": "stdout", "rank": str(rank), "data": "x"}))
        assert not c.feed(ev("data", eof_context("stdout", rank)))
    assert not c.feed(ev("data", eof_context("stderr", 0)))
    assert c.feed(ev("data", eof_context("stderr", 1)))


def test_output_complete_with_redirects():
    c = OutputCompletion()
    c.feed(ev("header", header_context(3)))
    c.feed(ev("redirect", redirect_context("stdout", 3, "/o")))
    assert not c.complete
    assert c.feed(ev("redirect", redirect_context("stderr", 3, "/o")))
