"""The pure parts of the resource service: configuration, shapes, inventory."""

import errno

import pytest

from fluxlab.resource.discover import LocalResources
from fluxlab.resource.idset import IDset
from fluxlab.resource.inventory import Inventory, InventoryError
from fluxlab.resource.rv1 import ResourceSet
from fluxlab.resource.shape import (
    NodeShape,
    ResourceConfig,
    ResourceConfigError,
    build_R,
    parse_module_args,
    rank_shape,
    ranks_of,
)

LOCAL = LocalResources(hostname="real", cores=(0, 1, 2, 5), gpus=(1,), memory=1 << 30)


def _inv(hosts=("node0", "node1", "node2", "node3"), cores=4):
    R = ResourceSet.from_nodes([(r, h, cores, 0) for r, h in enumerate(hosts)])
    inv = Inventory(R)
    inv.set_online(range(len(hosts)), True)
    return inv


# -- configuration -------------------------------------------------------------
def test_config_defaults_and_fake_shape():
    cfg = ResourceConfig.parse(None, 4)
    assert not cfg.fake_shape and cfg.hostnames is None and cfg.exclude == IDset()
    cfg = ResourceConfig.parse(
        {
            "cores-per-node": 8,
            "gpus-per-node": 2,
            "hostnames": "n[1-4]",
            "properties": {"big": "n[3-4]", "first": "0"},
            "exclude": "n1",
        },
        4,
    )
    assert cfg.fake_shape and cfg.hostnames == ["n1", "n2", "n3", "n4"]
    assert cfg.properties == {"big": IDset("2-3"), "first": IDset("0")}
    assert cfg.exclude == IDset("0")


@pytest.mark.parametrize(
    "conf,message",
    [
        ("cores=4", "resource: configuration must be a table"),
        ({"cores": 4}, "unknown key(s) cores"),
        ({"cores-per-node": "4"}, "resource.cores-per-node: must be an integer, not '4'"),
        ({"cores-per-node": True}, "resource.cores-per-node: must be an integer"),
        ({"cores-per-node": 0}, "resource.cores-per-node: must be 1..65536, not 0"),
        ({"gpus-per-node": -1}, "resource.gpus-per-node: must be 0..65536, not -1"),
        ({"hostnames": "n[0-2]"}, "names 3 host(s) but the instance has 4 rank(s)"),
        ({"hostnames": "n[0-"}, "resource.hostnames:"),
        ({"hostnames": 7}, "resource.hostnames: must be a non-empty hostlist string"),
        ({"properties": ["big"]}, "resource.properties: must be a table"),
        (
            {"properties": {"big": "9"}},
            "resource.properties.big: rank 9 not found (valid ranks: 0-3)",
        ),
        ({"properties": {"b|g": "1"}}, "invalid character in property name 'b|g'"),
        ({"properties": {"big": 1}}, "resource.properties.big: must be a string"),
        ({"exclude": "nosuch"}, "resource.exclude: unknown host 'nosuch'"),
        ({"exclude": ""}, "resource.exclude: must not be empty"),
        ({"R": {"version": 2}}, "resource.R: version: must be 1"),
        ({"R": 5}, "resource.R: must be an R object or its JSON text"),
        ({"R": {"version": 1, "execution": {"R_lite": []}}}, "resource.R: holds no ranks"),
        (
            {
                "R": {
                    "version": 1,
                    "execution": {"R_lite": [{"rank": "3-5", "children": {"core": "0"}}]},
                }
            },
            "resource.R: ranks 4-5 are not in this instance of size 4",
        ),
        (
            {"R": "{}", "hostnames": "n[0-3]", "cores-per-node": 1},
            "resource.R: cannot be combined with resource.cores-per-node, resource.hostnames",
        ),
    ],
)
def test_config_errors_name_the_key(conf, message):
    with pytest.raises(ResourceConfigError) as exc:
        ResourceConfig.parse(conf, 4)
    assert message in str(exc.value)


def test_config_R_and_exclude_by_its_hosts():
    R = ResourceSet.from_nodes([(r, f"h{r}", 2, 0) for r in range(3)])
    cfg = ResourceConfig.parse({"R": R.encode(), "exclude": "h2"}, 3)
    assert cfg.R == R and cfg.exclude == IDset("2")
    assert build_R([], cfg) == R


@pytest.mark.parametrize(
    "args,expected",
    [([], {}), (["cores=2"], {"cores": 2}), (["gpus=0", "cores=1"], {"gpus": 0, "cores": 1})],
)
def test_module_args(args, expected):
    assert parse_module_args(args) == expected


@pytest.mark.parametrize(
    "args,message",
    [
        (["cores"], "unknown module argument 'cores'"),
        (["memory=4"], "unknown module argument 'memory=4'"),
        (["cores=four"], "cores= must be an integer, not 'four'"),
        (["cores=0"], "cores=: must be 1..65536, not 0"),
    ],
)
def test_module_arg_errors(args, message):
    with pytest.raises(ResourceConfigError, match="resource") as exc:
        parse_module_args(args)
    assert message in str(exc.value)


# -- shapes ------------------------------------------------------------------------
def test_rank_shape_prefers_args_then_config_then_discovery():
    cfg = ResourceConfig.parse(None, 2)
    assert rank_shape(1, cfg, {}, LOCAL, "h") == NodeShape(1, "h", "0-2,5", "1")
    cfg = ResourceConfig.parse({"cores-per-node": 3, "hostnames": "a,b"}, 2)
    assert rank_shape(1, cfg, {}, LOCAL, "h") == NodeShape(1, "b", "0-2", "1")
    assert rank_shape(0, cfg, {"cores": 1, "gpus": 0}, LOCAL, "h") == NodeShape(0, "a", "0", "")


def test_shape_round_trip_and_bad_payloads():
    shape = NodeShape(2, "n2", "0-3", "0")
    assert NodeShape.from_dict(shape.to_dict()) == shape
    for payload, message in [
        (None, "shape: must be an object"),
        ({"rank": -1}, "shape.rank: must be a non-negative integer"),
        ({"rank": 1, "hostname": "a,b"}, "shape.hostname: must be a plain host name"),
        ({"rank": 1, "hostname": "a", "cores": 4}, "shape.cores: must be an idset string"),
        ({"rank": 1, "hostname": "a", "cores": "0-", "gpus": ""}, "shape.cores: invalid idset"),
    ]:
        with pytest.raises(ResourceConfigError) as exc:
            NodeShape.from_dict(payload)
        assert message in str(exc.value)


def test_build_R_with_properties_of_reported_ranks():
    cfg = ResourceConfig.parse({"properties": {"big": "1-2"}}, 3)
    R = build_R([NodeShape(2, "c", "0-1", "0"), NodeShape(0, "a", "0-3")], cfg)
    assert str(R.ranks) == "0,2" and R.ncores == 6 and R.ngpus == 1
    assert str(R.nodelist) == "a,c" and R.get_properties() == '{"big": "2"}'


def test_ranks_of_duplicate_hosts_select_every_rank():
    hosts = {0: "vm", 1: "vm", 2: "other"}
    assert ranks_of("vm", hosts, "t") == IDset("0-1")
    assert ranks_of("other,vm", hosts, "t") == IDset("0-2")
    assert ranks_of("1-2", hosts, "t") == IDset("1-2")
    with pytest.raises(ResourceConfigError, match="ranks 3-4 not found"):
        ranks_of("2-4", hosts, "t")


# -- inventory ------------------------------------------------------------------------
def test_drain_modes():
    inv = _inv()
    assert inv.drain("1-2", "bad", now=100.0) == IDset("1-2")
    assert inv.up == IDset("0,3")
    with pytest.raises(InventoryError) as exc:
        inv.drain("2-3", "again", now=200.0)
    assert exc.value.errno == errno.EEXIST and str(exc.value) == "rank 2 already drained"
    assert 3 not in inv.drained  # all or nothing
    assert inv.drain("2-3", "upd", mode="update", now=300.0) == IDset("3")
    assert inv.drained[2].reason == "bad" and inv.drained[3].timestamp == 300.0
    inv.drain("node[1-2]", "over", mode="overwrite", now=400.0)
    assert (inv.drained[1].reason, inv.drained[1].timestamp) == ("over", 100.0)
    inv.drain("1", "force", mode="force-overwrite", now=500.0)
    assert (inv.drained[1].reason, inv.drained[1].timestamp) == ("force", 500.0)
    assert inv.drain_payload() == {
        "1": {"timestamp": 500.0, "reason": "force"},
        "2": {"timestamp": 100.0, "reason": "over"},
        "3": {"timestamp": 300.0, "reason": "upd"},
    }
    with pytest.raises(InventoryError, match="mode must be one of update, overwrite"):
        inv.drain("0", "x", mode="sometimes")


def test_undrain_and_errors():
    inv = _inv()
    inv.drain("0-1", "x", now=1.0)
    assert inv.drain_payload() == {"0-1": {"timestamp": 1.0, "reason": "x"}}
    with pytest.raises(InventoryError) as exc:
        inv.undrain("1-3")
    assert exc.value.errno == errno.EINVAL and str(exc.value) == "ranks 2-3 not drained"
    assert inv.undrain("1-3", mode="force") == IDset("1")
    assert inv.undrain("node0") == IDset("0") and inv.drained == {}
    with pytest.raises(InventoryError, match="mode must be 'force'"):
        inv.undrain("0", mode="please")


@pytest.mark.parametrize(
    "targets,message",
    [
        ("7", "targets: rank 7 not found (valid ranks: 0-3)"),
        ("node9", "targets: unknown host 'node9'"),
        ("node[1-", "targets: 'node[1-' is neither an idset nor a hostlist"),
        ("  ", "targets: must not be empty"),
        (3, "targets: must be a string"),
    ],
)
def test_bad_targets(targets, message):
    with pytest.raises(InventoryError) as exc:
        _inv().drain(targets, "r")
    assert exc.value.errno == errno.EINVAL and message in str(exc.value)


def test_status_and_sched_payloads():
    R = ResourceSet.from_nodes([(r, f"n{r}", 2, 1) for r in range(4)])
    inv = Inventory(R, exclude=[0])
    assert inv.set_online([0, 1, 2, 9], True) == IDset("0-2")
    assert inv.set_online([1], True) == IDset()
    inv.drain("2", "r", now=5.0)
    assert inv.up == IDset("1")
    status = inv.status_payload()
    assert status == {
        "R": R.to_dict(),
        "online": "0-2",
        "offline": "3",
        "exclude": "0",
        "torpid": "",
        "drain": {"2": {"timestamp": 5.0, "reason": "r"}},
    }
    sched = inv.sched_status_payload()
    assert ResourceSet(sched["all"]).ranks == IDset("1-3")
    assert ResourceSet(sched["down"]).ranks == IDset("2-3")
    assert ResourceSet(sched["allocated"]).nnodes == 0
    assert [h[1:] for h in inv.history] == [("online", "0-2"), ("drain", "2")]


def test_public_surface_of_fluxlab_resource():
    import subprocess
    import sys

    import fluxlab.resource as res

    assert set(res.__all__) == {
        "ResourceSet", "ResourceStatus", "Rv1Set", "SchedResourceList",
        "resource_list", "resource_status",
    }  # fmt: skip
    for name in res.__all__:
        assert getattr(res, name) is not None
    code = "import sys, fluxlab.resource.idset; print('zmq' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
