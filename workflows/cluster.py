"""Where the tasks run: an embedded LocalCluster by default, or a running scheduler reached by address."""

from __future__ import annotations

import asyncio
import logging
import os
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import dask
from dask.utils import parse_timedelta
from distributed import Client, LocalCluster
from distributed.comm import CommClosedError, connect
from distributed.security import Security

from .dashboard_on_demand import LoopbackWorker, OnDemandDashboard
from .errors import UsageError


def default_workers() -> int:
    return os.cpu_count() or 1


def tls_security(
    scheduler: str | None, ca: str | None = None, cert: str | None = None, key: str | None = None
) -> Security | None:
    """The client's TLS credentials from ``--tls-ca/--tls-cert/--tls-key``; None leaves it to the Dask config
    (``distributed.comm.tls.*``, also set through ``DASK_DISTRIBUTED__COMM__TLS__...``). Raises UsageError."""
    given = {"--tls-ca": ca, "--tls-cert": cert, "--tls-key": key}
    if not any(given.values()):
        if (scheduler or "").startswith("tls://") and not dask.config.get("distributed.comm.tls.client.cert", None):
            raise UsageError(
                f"{scheduler} is a TLS scheduler: give --tls-ca and --tls-cert (and --tls-key unless the key is "
                "in the certificate file), or set distributed.comm.tls in the Dask config"
            )
        return None
    if not scheduler:
        raise UsageError("--tls-ca/--tls-cert/--tls-key are for a remote --scheduler tls://...; "
                         "the embedded LocalCluster makes its own throwaway certificates")
    for name in ("--tls-ca", "--tls-cert"):
        if not given[name]:
            raise UsageError(f"TLS needs --tls-ca and --tls-cert together; {name} is missing")
    for name, path in given.items():
        if path and not os.path.isfile(path):
            raise UsageError(f"{name} {path} does not exist")
    return Security(tls_ca_file=ca, tls_client_cert=cert, tls_client_key=key, require_encryption=True)


_ENVIRON = "distributed.nanny.pre-spawn-environ"
# Dask starts workers with MALLOC_TRIM_THRESHOLD_=65536 to hand freed memory back to the OS. Setting it also
# turns off glibc's adaptive mmap threshold, so every buffer over 128 KiB (each block read, the joined JSON
# array, the CSV text) is a fresh mmap with its page faults: measured, the worker then spends ~1.5x the CPU
# time per line. A 16 MiB mmap threshold with a 32 MiB trim threshold gives the speed back; the memory a
# worker keeps is still bounded (a few blocks' worth, see README, Performance).
WORKER_MALLOC_ENVIRON = {"MALLOC_MMAP_THRESHOLD_": 16 * 2**20, "MALLOC_TRIM_THRESHOLD_": 32 * 2**20}


def worker_malloc_settings() -> dict[str, int]:
    """Dask config for the LocalCluster's worker environment, unless the user set MALLOC_MMAP_THRESHOLD_
    (in the Dask config or the environment)."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or dask.config.get(f"{_ENVIRON}.MALLOC_MMAP_THRESHOLD_", None):
        return {}
    # The Nanny lets the client's os.environ override this config, and writes the config into os.environ when
    # it spawns a worker: an earlier LocalCluster of the same process leaves MALLOC_TRIM_THRESHOLD_=65536
    # there. Writing ours the same way makes it hold for every cluster this process starts.
    os.environ.update({name: str(value) for name, value in WORKER_MALLOC_ENVIRON.items()})
    return {f"{_ENVIRON}.{name}": value for name, value in WORKER_MALLOC_ENVIRON.items()}


def embedded_log_level() -> int:
    """How much the embedded cluster's scheduler and workers log on stderr. A failed task is reported by the
    client as one line naming the partition and the error, so the workers' own ERROR blocks (``Compute
    Failed`` with its traceback, once per retry) are shown only with ``ZEEKFLOW_DEBUG=1``."""
    return logging.ERROR if os.environ.get("ZEEKFLOW_DEBUG") else logging.CRITICAL


async def _identity(address: str, security: Security | None, timeout_s: float) -> Any:
    # Connecting gives up a little before the whole exchange does, so a refused connection says so.
    comm = await connect(address, timeout=0.8 * timeout_s, **(security or Security()).get_connection_args("client"))
    try:
        await comm.write({"op": "identity", "reply": True})
        return await comm.read()
    finally:
        comm.abort()


def check_scheduler(address: str, security: Security | None, timeout_s: float, hint: str = "") -> None:
    """Raise UsageError within ``timeout_s`` unless a Dask scheduler answers at ``address``.

    A Client would wait forever for the handshake of a server that accepts the connection and never speaks
    Dask (an HTTP server, a wrong port), and a Client that failed to start lingers in ``Client.__del__`` for a
    minute; so the address is tried first with one bounded exchange, before any Client exists. The exchange
    runs in a thread of its own, so that a caller inside an event loop (a notebook) can use it too.
    """

    def probe() -> Any:
        return asyncio.run(asyncio.wait_for(_identity(address, security, timeout_s), timeout_s))

    try:
        with ThreadPoolExecutor(1, thread_name_prefix="zeekflow-probe") as pool:
            reply = pool.submit(probe).result()
    except (asyncio.TimeoutError, TimeoutError):
        raise UsageError(f"nothing at {address} answered as a Dask scheduler within {timeout_s:g} s "
                         f"(is it the scheduler's address and port?){hint}") from None
    except (OSError, ValueError, TypeError, CommClosedError) as error:
        raise UsageError(f"cannot connect to the Dask scheduler at {address}: {error}{hint}") from None
    if not isinstance(reply, dict) or reply.get("type") != "Scheduler":
        kind = reply.get("type") if isinstance(reply, dict) else type(reply).__name__
        raise UsageError(f"{address} is not a Dask scheduler (it answered as {kind}); give the scheduler's address")


def embedded_worker_kind(kind: str = "auto") -> str:
    """``threads`` or ``processes`` for the embedded cluster. ``auto`` is threads when the native kernel is
    built: it converts with the GIL released, so worker threads run in parallel and the cluster starts in
    ~0.05 s instead of ~2 s of spawned processes and TLS; without the kernel the Python path holds the GIL,
    and only processes run in parallel."""
    if kind != "auto":
        return kind
    from .kernel import kernel_name

    return "threads" if kernel_name() == "native" else "processes"


# glibc's mallopt parameters (malloc.h): the thresholds WORKER_MALLOC_ENVIRON gives worker processes.
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3


def set_malloc_thresholds() -> None:
    """WORKER_MALLOC_ENVIRON's thresholds in this process, for worker threads (a process reads the environment
    variables only when it starts). Not on a C library without mallopt, nor when the user chose their own."""
    if "MALLOC_MMAP_THRESHOLD_" in os.environ:
        return
    import ctypes
    import ctypes.util

    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or None).mallopt
    except (OSError, AttributeError):
        return
    mallopt(_M_MMAP_THRESHOLD, WORKER_MALLOC_ENVIRON["MALLOC_MMAP_THRESHOLD_"])
    mallopt(_M_TRIM_THRESHOLD, WORKER_MALLOC_ENVIRON["MALLOC_TRIM_THRESHOLD_"])


# How long an interrupted or failed run waits for its worker threads' tasks before it exits anyway.
THREADS_CLOSE_TIMEOUT_S = 2


class EmbeddedCluster(LocalCluster):
    """A LocalCluster whose Bokeh dashboard is mounted at the first request for it (``OnDemandDashboard``)."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.bokeh_dashboard = OnDemandDashboard(self)

    def close(self, *args, **kwargs):
        dashboard = getattr(self, "bokeh_dashboard", None)  # None: the cluster failed to start
        if dashboard is not None:
            dashboard.finish()
        return super().close(*args, **kwargs)


# Each worker keeps one statistical profile a second (the dashboard's Profile page), and the scheduler and
# workers their transition and message logs, up to this many entries each: Dask's 1,000 made a worker grow by
# ~40 KB a second for 17 minutes (measured on the 100M-line run, 92 -> 118 MB over 10 minutes); 100 keeps
# the last 100 s of profiles and caps the growth after that.
EMBEDDED_LOG_SETTINGS = {"distributed.admin.low-level-log-length": 100}


def local_cluster(workers: int | None = None, security: Security | None = None,
                  silence_logs: int | None = None, threads: bool = False) -> EmbeddedCluster:
    """The LocalCluster ``zeekflow convert`` runs on: ``workers`` single-threaded worker processes (default:
    one per CPU) with ``worker_malloc_settings``, scheduler and dashboard on loopback (the dashboard on a free
    port). With ``security`` the scheduler and workers speak TLS (``Security.temporary()`` for a cluster only
    its own clients can use); without it, plain TCP that any local process can reach. With ``threads``,
    workers are threads of this process instead, reached in memory only (``inproc://``: nothing listens but
    the dashboard). The Bokeh dashboard is mounted when first asked for. Logs as
    ``embedded_log_level`` unless ``silence_logs`` says otherwise. The caller closes it."""
    # The scheduler's HTTP routes listen on loopback from the start; its Bokeh dashboard is mounted there
    # when first asked for (EmbeddedCluster).
    common = dict(
        n_workers=workers or default_workers(),
        threads_per_worker=1,
        dashboard_address="127.0.0.1:0",
        scheduler_kwargs={"dashboard": False},
        silence_logs=embedded_log_level() if silence_logs is None else silence_logs,
    )
    if threads:
        set_malloc_thresholds()
        # Each worker thread serves its HTTP routes (metrics, health) on loopback, as the dashboard, not on
        # all interfaces, where a worker thread would otherwise listen.
        with dask.config.set(EMBEDDED_LOG_SETTINGS):
            return EmbeddedCluster(processes=False, worker_class=LoopbackWorker, **common)
    with dask.config.set({**worker_malloc_settings(), **EMBEDDED_LOG_SETTINGS}):
        return EmbeddedCluster(processes=True, host="127.0.0.1", protocol="tls://" if security is not None else None,
                               security=security, **common)


@contextmanager
def open_client(
    scheduler: str | None = None,
    workers: int | None = None,
    connect_timeout_s: float | None = None,
    security: Security | None = None,
    worker_kind: str = "auto",
) -> Iterator[Client]:
    """A connected Client. Without ``scheduler``, a LocalCluster whose dashboard listens on loopback only (on a
    free port) and that only this client can use: worker threads reached in memory, or (``worker_kind``, see
    ``embedded_worker_kind``) single-threaded worker processes whose scheduler and workers speak TLS with
    throwaway certificates.

    The connect timeout defaults to Dask's ``distributed.comm.timeouts.connect`` setting.
    """
    if scheduler:
        if connect_timeout_s is None:
            connect_timeout_s = parse_timedelta(dask.config.get("distributed.comm.timeouts.connect"))
        hint = ""
        if scheduler.startswith("tls://"):
            hint = " (is --tls-cert signed by a CA the cluster trusts, and --tls-ca the CA of the scheduler's?)"
        check_scheduler(scheduler, security, connect_timeout_s, hint)
        try:
            client = Client(scheduler, timeout=connect_timeout_s, set_as_default=False, security=security)
        except (OSError, TimeoutError, ValueError) as error:
            raise UsageError(f"cannot connect to the Dask scheduler at {scheduler}: {error}{hint}") from None
        try:
            client.wait_for_workers(1, timeout=connect_timeout_s)
        except TimeoutError:
            client.close()
            raise UsageError(f"the Dask scheduler at {scheduler} has no workers") from None
        try:
            yield client
        finally:
            client.close()
        return

    # Loopback alone lets every local user connect and run code as this one: worker threads are reached in
    # memory only, and worker processes over TLS with a certificate made for this run and kept in memory,
    # which its scheduler, workers and client present to each other (mutual TLS). A client without it is
    # refused at the handshake.
    threads = embedded_worker_kind(worker_kind) == "threads"
    security = None if threads else Security.temporary()
    cluster = local_cluster(workers, security, threads=threads)
    stopped = False
    try:
        with Client(cluster, set_as_default=False, security=security) as client:
            yield client
    except BaseException:
        stopped = True
        raise
    finally:
        if stopped and threads:
            # Interrupted or failed: a worker thread may be inside a task (a read that hangs) that nothing can
            # stop, and closing waits for running tasks. Its threads are daemons, gone with the process.
            try:
                cluster.close(timeout=THREADS_CLOSE_TIMEOUT_S)
            except Exception:  # the close timed out: the process is on its way out
                pass
        else:
            cluster.close()


def load_cluster_config(folder: str) -> None:
    """Read the YAML files of ``folder`` (e.g. cluster/config) into dask.config, under the environment: as with
    ``DASK_CONFIG``, every ``DASK_*`` variable still overrides what the files say."""
    dask.config.refresh(paths=[*dask.config.paths, folder])


def unknown_config_keys(config: Mapping[str, Any]) -> list[str]:
    """Dotted keys of ``config`` that Dask does not define (a typo there would be silently ignored)."""
    import distributed  # noqa: F401  (registers distributed's defaults with dask.config)

    defaults = dask.config.merge(*dask.config.defaults)
    unknown = []

    def walk(node: Mapping[str, Any], known: Mapping[str, Any], path: str) -> None:
        for key, value in node.items():
            name = f"{path}.{key}" if path else str(key)
            canonical = str(key).replace("_", "-")
            if canonical not in known and key not in known:
                unknown.append(name)
            elif isinstance(value, Mapping) and isinstance(known.get(canonical, known.get(key)), Mapping):
                walk(value, known.get(canonical, known.get(key)), name)

    walk(config, defaults, "")
    return unknown


def worker_count(client: Client) -> int:
    return len(client.scheduler_info().get("workers", {}))


def dashboard_link(client: Client) -> str | None:
    try:
        link = client.dashboard_link
    except Exception:  # no bokeh, or a scheduler without the dashboard service
        return None
    if client.scheduler.address.startswith("inproc://"):
        # Worker threads: Dask names the host of the in-memory address, while the dashboard listens on
        # loopback (local_cluster).
        port = client.scheduler_info().get("services", {}).get("dashboard")
        return f"http://127.0.0.1:{port}/status" if port else None
    return link


def _path_problems(inputs: list[tuple[str, int]], work_dir: str) -> list[str]:
    """Run on each worker: what of the inputs and the work dir this worker cannot use."""
    import fsspec

    problems = []
    for path, size in inputs:
        try:
            fs, fs_path = fsspec.core.url_to_fs(path)
            seen = fs.size(fs_path)
        except (OSError, ValueError) as error:
            problems.append(f"cannot read input {path} ({type(error).__name__})")
            continue
        if seen < size:  # more is fine: a live log grows, and the run reads only the bytes planned
            problems.append(f"sees input {path} with {seen} bytes, the client sees {size}")
    if not os.path.isdir(work_dir) or not os.access(work_dir, os.W_OK):
        problems.append(f"cannot write to the work dir {work_dir}")
    return problems


def check_workers_see(client: Client, inputs: list[tuple[str, int]], work_dir: str) -> None:
    """Fail early, naming the worker and path, when a worker of a remote cluster cannot see the files."""
    report = client.run(_path_problems, inputs, work_dir)
    bad = {worker: problems for worker, problems in report.items() if problems}
    if bad:
        worker, problems = next(iter(bad.items()))
        raise UsageError(
            f"worker {worker} {problems[0]}"
            f"{f' ({len(bad)} workers have problems)' if len(bad) > 1 else ''}: workers must see the input "
            "and work dir at the same paths as the client (a shared filesystem, or an fsspec URL they can reach)"
        )
