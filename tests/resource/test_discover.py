"""Local discovery: this machine, fake /proc trees and a fake nvidia-smi."""

import os
import socket
import stat

import pytest

from fluxlab.resource.discover import (
    GPUInfo,
    discover,
    local_resources,
    parse_meminfo,
    parse_nvidia_smi,
    parse_proc_gpus,
    visible_gpus,
)

SMI = """GPU 0: NVIDIA H100 80GB HBM3 (UUID: GPU-aaaa1111-0000-0000-0000-000000000000)
GPU 1: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb2222-0000-0000-0000-000000000000)
  MIG 1g.10gb     Device  0: (UUID: MIG-cccc3333-0000-0000-0000-000000000000)
GPU 2: NVIDIA H100 80GB HBM3 (UUID: GPU-bbbb9999-0000-0000-0000-000000000000)
"""


def _fake_proc(root, meminfo="MemTotal:       16314960 kB\nMemFree: 1 kB\n", gpus=None):
    proc = root / "proc"
    proc.mkdir()
    if meminfo is not None:
        (proc / "meminfo").write_text(meminfo)
    for bus, uuid in (gpus or {}).items():
        d = proc / "driver" / "nvidia" / "gpus" / bus
        d.mkdir(parents=True)
        if uuid is not None:
            (d / "information").write_text(
                f"Model: \t\t NVIDIA A100\nIRQ: \t\t 42\nGPU UUID: \t {uuid}\nBus Location: \t {bus}\n"
            )
    return root


def test_this_machine():
    found = discover()
    assert found.cores == tuple(sorted(os.sched_getaffinity(0)))
    assert found.hostname == socket.gethostname()
    assert found.memory > 0 and found.memory % 1024 == 0
    assert all(isinstance(g, int) and g >= 0 for g in found.gpus)
    if found.gpu_source == "none":
        assert found.gpus == ()


def test_local_resources_is_cached_per_process():
    assert local_resources() is local_resources()
    assert local_resources().cores == tuple(sorted(os.sched_getaffinity(0)))


def test_fake_proc_tree_with_gpus(tmp_path):
    root = _fake_proc(
        tmp_path,
        gpus={"0000:b1:00.0": "GPU-2222", "0000:3b:00.0": "GPU-1111", "0000:d9:00.0": None},
    )
    found = discover(root=str(root), env={}, nvidia_smi=None, cores=[3, 1, 2], hostname="n1")
    assert found.memory == 16314960 * 1024
    assert found.cores == (1, 2, 3) and found.hostname == "n1"
    assert found.gpus == (0, 1, 2) and found.gpu_source == "proc"
    # PCI bus order gives the indices; CUDA_VISIBLE_DEVICES may name a UUID
    found = discover(
        root=str(root), env={"CUDA_VISIBLE_DEVICES": "GPU-2222"}, nvidia_smi=None, cores=[0]
    )
    assert found.gpus == (1,)


def test_missing_files_mean_absent_resources(tmp_path):
    found = discover(root=str(tmp_path), env={}, nvidia_smi=None, cores=[0])
    assert (found.memory, found.gpus, found.gpu_source) == (0, (), "none")


def _program(tmp_path, name, text, status=0):
    path = tmp_path / name
    path.write_text(f"#!/bin/sh\ncat <<'EOF'\n{text}EOF\nexit {status}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


def test_nvidia_smi_is_preferred_and_honours_cuda_visible_devices(tmp_path):
    smi = _program(tmp_path, "fake-smi", SMI)
    root = _fake_proc(tmp_path, gpus={"0000:3b:00.0": "GPU-x"})
    found = discover(root=str(root), env={}, nvidia_smi=smi, cores=[0])
    assert (found.gpus, found.gpu_source) == ((0, 1, 2), "nvidia-smi")
    env = {"CUDA_VISIBLE_DEVICES": "2,0"}
    assert discover(root=str(root), env=env, nvidia_smi=smi, cores=[0]).gpus == (0, 2)


def test_failing_nvidia_smi_falls_back_to_proc(tmp_path):
    smi = _program(tmp_path, "broken-smi", "NVIDIA-SMI has failed\n", status=9)
    root = _fake_proc(tmp_path, gpus={"0000:3b:00.0": "GPU-x"})
    found = discover(root=str(root), env={}, nvidia_smi=smi, cores=[0])
    assert (found.gpus, found.gpu_source) == ((0,), "proc")
    missing = discover(root=str(root), env={}, nvidia_smi=str(tmp_path / "nope"), cores=[0])
    assert missing.gpu_source == "proc"


def test_parse_nvidia_smi_ignores_mig_and_noise():
    assert parse_nvidia_smi(SMI + "No devices were found\n") == [
        GPUInfo(0, "GPU-aaaa1111-0000-0000-0000-000000000000"),
        GPUInfo(1, "GPU-bbbb2222-0000-0000-0000-000000000000"),
        GPUInfo(2, "GPU-bbbb9999-0000-0000-0000-000000000000"),
    ]
    assert parse_nvidia_smi("") == []


@pytest.mark.parametrize(
    "value,expected",
    [
        (None, (0, 1, 2)),
        ("1", (1,)),
        ("2,0", (0, 2)),
        ("0,7,1", (0,)),  # stops at the first device that does not exist
        ("1,1,2", (1,)),  # a repeated device ends the list
        ("", ()),
        ("NoDevFiles", ()),
        ("-1", ()),
        ("GPU-aaaa", (0,)),
        ("GPU-bbbb", ()),  # ambiguous prefix
        ("GPU-bbbb2,2", (1, 2)),
        (" 1 , 2", (1, 2)),
    ],
)
def test_cuda_visible_devices(value, expected):
    assert visible_gpus(parse_nvidia_smi(SMI), value) == expected


@pytest.mark.parametrize(
    "text,expected",
    [
        ("MemTotal:       2048 kB\n", 2048 * 1024),
        ("MemFree: 5 kB\nMemTotal: 3 mB\n", 3 * 1024**2),
        ("MemTotal: 12\n", 12),
        ("MemTotal: lots kB\n", 0),
        ("MemTotal:\n", 0),
        ("MemTotal: 5 parsecs\n", 0),
        ("garbage", 0),
        ("", 0),
    ],
)
def test_parse_meminfo(text, expected):
    assert parse_meminfo(text) == expected


def test_parse_proc_gpus_orders_by_bus_and_tolerates_missing_information():
    assert parse_proc_gpus({"0000:b1:00.0": "", "0000:3B:00.0": "GPU UUID: GPU-9\n"}) == [
        GPUInfo(0, "GPU-9"),
        GPUInfo(1, ""),
    ]
