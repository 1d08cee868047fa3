"""The shared output format language and listing edge cases."""

import datetime
import json

import pytest

from fluxlab.resource.listing import ListingError, resource_list_text, resource_status_text
from fluxlab.resource.rv1 import ResourceSet
from fluxlab.util.outputformat import Deduplicator, FormatError, OutputFormat


class Item:
    def __init__(self, **kw):
        self.__dict__.update(kw)


HEAD = {"name": "NAME", "n": "N", "t": "TIME", "q": "QUEUE", "when": "WHEN", "p": "PCT"}


def test_header_keeps_only_alignment_and_width():
    fmt = OutputFormat("{name:<10.3} {n:>6d} {t!F:>8h}", headings=HEAD)
    assert fmt.header() == "NAME            N     TIME"


def test_conversions_and_suffixes():
    fmt = OutputFormat("{t!F} {t!H} {p!P} {name:.4+} {q:h}", headings=HEAD)
    assert fmt.format(Item(t=90, p=0.5, name="abcdefg", q="")) == "1.5m 0:01:30 50% abc+ -"
    assert fmt.format(Item(t=0.2, p=0.005, name="ab", q="x")) == "0.200s 0:00:01 0.50% ab x"
    ts = datetime.datetime(2024, 5, 6, 7, 8, 9).timestamp()
    dfmt = OutputFormat("{when!d:%H:%M::>7}|{when!D}|{when!d:%H::h}", headings=HEAD)
    assert dfmt.format(Item(when=ts)) == "  07:08|2024-05-06T07:08:09|07"
    assert dfmt.format(Item(when=0.0)) == "       ||-"


def test_collapse_and_expand():
    fmt = OutputFormat("{name:<4} ?:{q:<6} +:{n:>2}", headings=HEAD)
    items = [Item(name="a", q="", n=1), Item(name="b", q="", n=123456)]
    assert fmt.render(items) == ["NAME      N", "a         1", "b    123456"]
    items[0].q = "batch"
    assert fmt.render(items, no_header=True) == ["a    batch       1", "b           123456"]


def test_unknown_field_and_bad_values():
    with pytest.raises(FormatError, match="Unknown format field: nope"):
        OutputFormat("{nope}", headings=HEAD)
    with pytest.raises(FormatError):
        OutputFormat("{name", headings=HEAD)
    fmt = OutputFormat("{t!F}", headings=HEAD)
    with pytest.raises(FormatError):
        fmt.format(Item(t="soon"))
    with pytest.raises(FormatError):
        OutputFormat("{name.missing}", headings={"name.missing": "X"}).format(Item(name="a"))


def test_deduplicator_merges_like_lines():
    fmt = OutputFormat("{name} {n}", headings=HEAD)
    seen = Deduplicator(fmt, except_fields=["n"], combine=lambda a, b: setattr(a, "n", a.n + b.n))
    for name, n in [("x", 1), ("y", 2), ("x", 3)]:
        seen.append(Item(name=name, n=n))
    assert [(i.name, i.n) for i in seen] == [("x", 4), ("y", 2)]


PAYLOAD = {
    "all": ResourceSet.from_nodes(
        [(0, "n0", 4, 1), (1, "n1", 4, 1), (2, "n2", 4, 0)], properties={"gpu": [0, 1]}
    ).to_dict(),
    "allocated": ResourceSet.from_nodes([(0, "n0", "0-1", 0)]).to_dict(),
    "down": None,
}


def test_default_list_format_collapses_and_expands():
    text = resource_list_text(PAYLOAD)
    assert text.splitlines() == [
        "     STATE PROPERTIES NNODES NCORES NGPUS NODELIST",
        "      free gpu             2      6     2 n[0-1]",
        "      free                 1      4     0 n2",
        " allocated                 1      2     0 n0",
        "      down                 0      0     0 ",
    ]
    assert resource_list_text(PAYLOAD, fmt="{state} {rlist}", states="all", no_header=True) == (
        "all rank[0-1]/core[0-3],gpu0 rank2/core[0-3]\n"
    )


def test_listing_errors():
    with pytest.raises(ListingError, match="invalid resource state"):
        resource_list_text(PAYLOAD, states="bogus")
    with pytest.raises(ListingError, match="no such queue"):
        resource_list_text(PAYLOAD, queues=["q"], config={"queues": {}})
    with pytest.raises(ListingError, match="No such format"):
        resource_list_text(PAYLOAD, fmt="nonexistent")
    with pytest.raises(ListingError, match="all:"):
        resource_list_text({"all": {"version": 3}})
    with pytest.raises(ListingError, match="online"):
        resource_status_text({"R": PAYLOAD["all"], "online": "x", "drain": {}})


def test_status_default_format_and_long():
    status = {
        "R": PAYLOAD["all"],
        "online": "0-1",
        "offline": "2",
        "exclude": "",
        "drain": {"1": {"reason": "bad disk", "timestamp": 1.0}},
    }
    assert resource_status_text(status).splitlines() == [
        "       STATE UP NNODES NODELIST",
        "       avail  ✔      1 n0",
        "      avail*  ✗      1 n2",
        "     drained  ✔      1 n1",
    ]
    long = resource_status_text(status, fmt="long", states="drained")
    assert "bad disk" in long and long.splitlines()[0].split() == [
        "STATE",
        "UP",
        "NNODES",
        "REASON",
        "NODELIST",
    ]
    json.dumps(status)  # payload stays JSON
