"""The cluster a run uses: a --scheduler that is not a Dask scheduler is refused at once; the embedded
LocalCluster refuses a client without the run's credentials."""

from __future__ import annotations

import asyncio
import sys
import threading
from http.server import HTTPServer, SimpleHTTPRequestHandler
from pathlib import Path

import pytest
from distributed.comm import CommClosedError, connect
from distributed.security import Security

from .gatedfs import close_gate, open_gate, remove_gate
from .procs import finish, free_port, gated_cli, listening_sockets, one_error_line, start, wait_for

CONNECT_TIMEOUT = {"DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT": "2s"}


@pytest.fixture
def http_server():
    """A plain HTTP server on loopback: it accepts the connection and never speaks Dask."""
    server = HTTPServer(("127.0.0.1", 0), SimpleHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"tcp://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_scheduler_address_that_is_not_a_dask_scheduler_is_one_line_and_exit_2(tmp_path: Path, http_server):
    source = tmp_path / "conn.log"
    source.write_bytes(b'{"ts":1.5,"uid":"C1"}\n')
    cases = {http_server: "answered as a Dask scheduler within 2 s",
             f"tcp://127.0.0.1:{free_port()}": "cannot connect to the Dask scheduler",  # nothing listens
             "nonsense://127.0.0.1:8786": "unknown address scheme"}
    for address, message in cases.items():
        run = start([sys.executable, "-m", "workflows", "convert", str(source), "-o", str(tmp_path / "o.csv"),
                     "--scheduler", address, "--no-progress"], env=CONNECT_TIMEOUT)
        # A hang (the Client's handshake never answered) or a minute in Client.__del__ fails here.
        code, out, err = finish(run, timeout=30)
        assert code == 2, err
        assert message in err and one_error_line(err), err
        assert not (tmp_path / "o.csv").exists()


def _listening(pid: int) -> set[int]:
    return {port for _, port in listening_sockets(pid)}


async def _intrude(address: str, security: Security | None) -> object:
    """What a local process gets by asking ``address`` who it is, as a Dask client would."""
    try:
        arguments = (security or Security()).get_connection_args("client")
        comm = await asyncio.wait_for(connect(address, timeout=3, **arguments), 5)
        try:
            await comm.write({"op": "identity", "reply": True})
            return await asyncio.wait_for(comm.read(), 5)
        finally:
            comm.abort()
    except (OSError, ValueError, asyncio.TimeoutError, CommClosedError) as error:  # ValueError: TLS to plain TCP
        return error


@pytest.mark.cluster
@pytest.mark.parametrize("kind, listeners", [
    ("processes", 4),  # at least the scheduler and dashboard in the client process, a nanny and its worker
    ("threads", 2),  # the dashboard and the worker's HTTP routes: the worker threads are reached in memory
])
def test_the_embedded_cluster_refuses_a_client_without_the_runs_credentials(tmp_path: Path, kind: str,
                                                                            listeners: int) -> None:
    source = tmp_path / "conn.log"
    source.write_bytes(b'{"ts":1.5,"uid":"C1"}\n' * 1000)
    close_gate(str(source), 4096)  # the partitions after the first ones wait: the cluster is up, the run on
    run = gated_cli("convert", f"gated://{source}", "-o", str(tmp_path / "o.csv"), "--workers", "1",
                    "--worker-kind", kind, "--partition-size", "2KiB", "--no-progress")
    try:
        ports = wait_for("the embedded cluster to listen",
                         lambda: len(_listening(run.pid)) >= listeners and _listening(run.pid), proc=run)
        attempts = [(f"{scheme}://127.0.0.1:{port}", security) for port in ports for scheme, security in
                    (("tcp", None), ("tls", Security.temporary()))]  # no certificate; one of another run

        async def intrude_all():
            return await asyncio.gather(*(_intrude(address, security) for address, security in attempts))

        answers = asyncio.run(intrude_all())
        let_in = [address for (address, _), answer in zip(attempts, answers) if isinstance(answer, dict)]
        assert not let_in, let_in
    finally:
        open_gate(str(source))
    code, _, err = finish(run)
    assert code == 0, err
    assert (tmp_path / "o.csv").read_bytes().count(b"\n") == 1001
    remove_gate(str(source))
