#!/usr/bin/env python3
"""Start a zeekflow cluster over SSH from a spec file (Dask's SSHCluster) and keep it up until interrupted.

    cluster/ssh-cluster.py cluster/ssh-cluster.yaml           # prints the scheduler address and dashboard link

The Dask settings of cluster/config are loaded first (DASK_* variables still override them) and SSHCluster
hands them to every remote scheduler and worker. Needs the `ssh` extra (asyncssh) on this host.
"""

from __future__ import annotations

import argparse
import signal
import sys
from pathlib import Path

import yaml

from workflows.cluster import load_cluster_config

HERE = Path(__file__).resolve().parent
SPEC_KEYS = {"hosts", "connect_options", "worker_options", "scheduler_options", "worker_class", "remote_python"}


def read_spec(path: str) -> dict:
    """The SSHCluster arguments in ``path``; SystemExit with a one-line message when they cannot be used."""
    try:
        spec = yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as error:
        sys.exit(f"ssh-cluster: cannot read {path}: {error}")
    if not isinstance(spec, dict) or not isinstance(spec.get("hosts"), list) or len(spec["hosts"]) < 2:
        sys.exit(f"ssh-cluster: {path} needs `hosts`: the scheduler's host, then at least one worker host")
    unknown = sorted(set(spec) - SPEC_KEYS)
    if unknown:
        sys.exit(f"ssh-cluster: unknown keys in {path}: {', '.join(unknown)} (known: {', '.join(sorted(SPEC_KEYS))})")
    return spec


def _stop(signum, frame) -> None:
    raise KeyboardInterrupt


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("spec", help="YAML file of SSHCluster arguments, like cluster/ssh-cluster.yaml")
    parser.add_argument("--config", default=str(HERE / "config"), help="Dask config folder (default: cluster/config)")
    args = parser.parse_args()
    spec = read_spec(args.spec)
    load_cluster_config(args.config)
    try:
        from distributed import SSHCluster
        import asyncssh  # noqa: F401
    except ImportError:
        sys.exit("ssh-cluster: asyncssh is missing; install zeekflow with the `ssh` extra")

    # SIGTERM (systemd, kill) closes the cluster as cleanly as Ctrl-C does.
    signal.signal(signal.SIGTERM, _stop)
    with SSHCluster(**spec) as cluster:
        print(f"scheduler: {cluster.scheduler_address}", flush=True)
        print(f"dashboard: {cluster.dashboard_link}", flush=True)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
