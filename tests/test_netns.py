"""Workers in network namespaces of their own, so scheduler <-> worker traffic crosses a (virtual) network.

The test builds it itself: a bridge in the current namespace holding the scheduler's address, and one namespace
per worker joined to the bridge by a veth pair, each with its own address. Where namespaces cannot be made (not
root, no ``ip``, a sandbox without CAP_NET_ADMIN), the test is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from distributed import Client

from .procs import ScriptCluster, cli

pytestmark = pytest.mark.cluster
PARTITION = "128KiB"


def _ip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True)


def _must(*args: str) -> None:
    result = _ip(*args)
    assert result.returncode == 0, f"ip {' '.join(args)}: {result.stderr}"


def _unused_subnet() -> str:
    """A 10.213.X.0/24 no interface of this machine uses yet (another test run may hold one)."""
    taken = _ip("-o", "-4", "addr", "show").stdout
    for step in range(200):
        subnet = f"10.213.{(os.getpid() + step) % 200 + 20}"
        if f" {subnet}." not in taken:
            return subnet
    pytest.skip("no free 10.213.X.0/24 subnet for the test network")


@pytest.fixture
def netns_cluster(tmp_path: Path):
    if shutil.which("ip") is None:
        pytest.skip("no `ip` command (iproute2)")
    tag = f"zf{os.getpid() % 100000}"
    subnet = _unused_subnet()
    bridge, namespaces = f"{tag}br", [f"{tag}a", f"{tag}b"]
    made: list[str] = []
    cluster = None
    try:
        # The first two steps probe the permissions (CAP_NET_ADMIN, CAP_SYS_ADMIN); later failures are bugs.
        for step in (("link", "add", bridge, "type", "bridge"), ("netns", "add", namespaces[0])):
            result = _ip(*step)
            if result.returncode != 0:
                pytest.skip(f"cannot make network namespaces here: ip {' '.join(step)}: {result.stderr.strip()}")
            made.append(step[2])
        _must("netns", "add", namespaces[1])
        made.append(namespaces[1])
        _must("addr", "add", f"{subnet}.1/24", "dev", bridge)
        _must("link", "set", bridge, "up")
        addresses = []
        for i, namespace in enumerate(namespaces):
            host_end, ns_end, address = f"{tag}h{i}", f"{tag}n{i}", f"{subnet}.{i + 2}"
            _must("link", "add", host_end, "type", "veth", "peer", "name", ns_end, "netns", namespace)
            _must("link", "set", host_end, "master", bridge)
            _must("link", "set", host_end, "up")
            _must("-n", namespace, "addr", "add", f"{address}/24", "dev", ns_end)
            _must("-n", namespace, "link", "set", ns_end, "up")
            _must("-n", namespace, "link", "set", "lo", "up")
            addresses.append(address)

        cluster = ScriptCluster(tmp_path, host=f"{subnet}.1")
        cluster.start_scheduler()
        for i, namespace in enumerate(namespaces):
            cluster.start_worker(f"ns{i}", prefix=["ip", "netns", "exec", namespace],
                                 extra=["--host", addresses[i]])
        with Client(cluster.address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
        yield cluster, addresses
    finally:
        if cluster is not None:
            cluster.close()
        for name in made:
            if name == bridge:
                _ip("link", "del", bridge)
            else:
                _ip("netns", "del", name)  # takes its veth pair with it


def test_workers_in_their_own_network_namespaces(netns_cluster, small_capture: Path, tmp_path: Path) -> None:
    cluster, addresses = netns_cluster
    with Client(cluster.address, timeout=30, set_as_default=False) as client:
        hosts = sorted(address.split("://")[1].rsplit(":", 1)[0] for address in client.scheduler_info()["workers"])
    assert hosts == addresses  # the workers really live at their namespaces' addresses

    output, reference = tmp_path / "conn.csv", tmp_path / "local.csv"
    code, _, err = cli("convert", str(small_capture), "-o", str(output), "--partition-size", PARTITION,
                       "--scheduler", cluster.address, "--no-progress")
    assert code == 0, err
    code, _, err = cli("convert", str(small_capture), "-o", str(reference), "--partition-size", PARTITION,
                       "--workers", "1", "--no-progress")
    assert code == 0, err
    assert output.read_bytes() == reference.read_bytes()
