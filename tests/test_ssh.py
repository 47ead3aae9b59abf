"""An SSH-launched cluster: cluster/ssh-cluster.py with a spec made from cluster/ssh-cluster.yaml, against a
real sshd the test starts on loopback (its own host key, client key and known_hosts). Skipped without sshd."""

from __future__ import annotations

import getpass
import os
import shutil
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import dask
import psutil
import pytest
import yaml
from distributed import Client

from .procs import CLUSTER, cli, free_port, kill_group, listening, start, wait_for

pytestmark = pytest.mark.cluster
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"
PARTITION = "256KiB"


@dataclass
class Sshd:
    port: int
    client_key: Path
    known_hosts: Path
    daemon: subprocess.Popen

    def kill_sessions(self) -> None:
        """Kill whatever runs under sshd now (a scheduler or workers left by a failing test): once their SSH
        connection is gone they are orphans no process group reaches."""
        for proc in psutil.Process(self.daemon.pid).children(recursive=True):
            try:
                proc.kill()
            except psutil.NoSuchProcess:
                pass


@pytest.fixture
def sshd(tmp_path: Path):
    """An sshd on 127.0.0.1 that admits this user with a throwaway key, checked against its own host key."""
    if not os.path.exists(SSHD) or shutil.which("ssh-keygen") is None:
        pytest.skip("no OpenSSH server (Debian package openssh-server)")
    if os.geteuid() != 0:
        pytest.skip("starting sshd for a test needs root")
    pytest.importorskip("asyncssh")
    for name in ("host_key", "client_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / name)], check=True)
    shutil.copyfile(tmp_path / "client_key.pub", tmp_path / "authorized_keys")
    port = free_port()
    host_public = (tmp_path / "host_key.pub").read_text().split()[:2]
    (tmp_path / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(host_public)}\n")
    config = tmp_path / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp_path / 'host_key'}\n"
        f"AuthorizedKeysFile {tmp_path / 'authorized_keys'}\nPidFile {tmp_path / 'sshd.pid'}\n"
        "PasswordAuthentication no\nKbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
        "StrictModes no\nUsePAM no\n"
    )
    os.makedirs("/run/sshd", exist_ok=True)  # sshd's privilege separation directory
    daemon = start([SSHD, "-D", "-e", "-f", str(config)])
    server = Sshd(port, tmp_path / "client_key", tmp_path / "known_hosts", daemon)
    try:
        wait_for("sshd to listen", lambda: listening("127.0.0.1", port), proc=daemon)
        yield server
    finally:
        if daemon.poll() is None:
            server.kill_sessions()
        kill_group(daemon)


def test_ssh_launched_cluster_converts(sshd: Sshd, small_capture: Path, tmp_path: Path) -> None:
    spec = yaml.safe_load((CLUSTER / "ssh-cluster.yaml").read_text())
    # The shipped spec, pointed at this machine: scheduler and two single-worker hosts, all 127.0.0.1.
    spec["hosts"] = ["127.0.0.1", "127.0.0.1", "127.0.0.1"]
    spec["connect_options"] = {"port": sshd.port, "username": getpass.getuser(),
                               "client_keys": [str(sshd.client_key)], "known_hosts": str(sshd.known_hosts)}
    spec["remote_python"] = sys.executable
    spec["scheduler_options"] = {**spec["scheduler_options"], "host": "127.0.0.1", "port": free_port(),
                                 "dashboard_address": f"127.0.0.1:{free_port()}"}
    spec["worker_options"] = {**spec["worker_options"], "n_workers": 1}
    spec_path = tmp_path / "ssh-cluster.yaml"
    spec_path.write_text(yaml.safe_dump(spec))

    launcher = start([sys.executable, str(CLUSTER / "ssh-cluster.py"), str(spec_path)])
    try:
        line = wait_for("the scheduler address", lambda: launcher.stdout.readline(), timeout=120, proc=launcher)
        assert line.startswith("scheduler: tcp://127.0.0.1:"), line
        address = line.split()[1]
        with Client(address, timeout=30, set_as_default=False) as client:
            client.wait_for_workers(2, timeout=60)
            workers = client.scheduler_info()["workers"].values()
            assert [w["nthreads"] for w in workers] == [1, 1]
            assert {w["memory_limit"] for w in workers} == {512 * 2**20}
            # cluster/config reached the remote workers through SSHCluster (0.85 there, Dask's default 0.8).
            config = yaml.safe_load((CLUSTER / "config" / "zeekflow.yaml").read_text())
            pause = set(client.run(dask.config.get, "distributed.worker.memory.pause").values())
            assert pause == {config["distributed"]["worker"]["memory"]["pause"]} != {0.8}
        output, reference = tmp_path / "conn.csv", tmp_path / "local.csv"
        code, _, err = cli("convert", str(small_capture), "-o", str(output), "--partition-size", PARTITION,
                           "--scheduler", address, "--no-progress")
        assert code == 0, err
        code, _, err = cli("convert", str(small_capture), "-o", str(reference), "--partition-size", PARTITION,
                           "--workers", "1", "--no-progress")
        assert code == 0, err
        assert output.read_bytes() == reference.read_bytes()

        launcher.send_signal(signal.SIGTERM)  # closes the cluster: scheduler and workers stop over SSH
        assert launcher.wait(timeout=60) == 0, launcher.stderr.read()
        assert not listening("127.0.0.1", int(address.rsplit(":", 1)[1]))
    finally:
        sshd.kill_sessions()
        kill_group(launcher)
