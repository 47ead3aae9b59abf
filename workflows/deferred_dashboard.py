"""The embedded cluster's Bokeh dashboard, attached while the run is already converting.

Importing Bokeh and Dask's dashboard takes 0.6-0.9 s of CPU, as long as starting the rest of the embedded
cluster. Dask does it before the scheduler listens; here the scheduler starts with its plain HTTP routes on
loopback (the same port, so the link is known at once) and a background thread imports the dashboard once the
cluster has been up for ``DASHBOARD_DELAY_S``, while partitions convert, then mounts it on the scheduler's HTTP
server from the scheduler's event loop. A run over before then never imports it.
"""

from __future__ import annotations

import threading

from distributed import LocalCluster, Worker

__all__ = ["DASHBOARD_DELAY_S", "LoopbackWorker", "DeferredDashboard"]

# How long the cluster runs before the dashboard is imported: a run that is over by then never pays for it.
DASHBOARD_DELAY_S = 0.5


class LoopbackWorker(Worker):
    """A worker thread whose HTTP routes (health, metrics) listen on loopback without the Bokeh worker
    dashboard: Dask's ``worker_dashboard_address`` would import Bokeh before the cluster starts."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["dashboard"] = False
        if kwargs.get("dashboard_address") is None:  # LocalCluster passes None for "no worker dashboard"
            kwargs["dashboard_address"] = "127.0.0.1:0"
        super().__init__(*args, **kwargs)


class DeferredDashboard:
    """Imports Dask's scheduler dashboard in a thread, ``delay_s`` after it is made, and mounts it on
    ``cluster``'s scheduler.

    ``ready`` is set once the dashboard serves its pages (or will not: ``error`` says why). ``finish`` cancels
    an import not yet begun and waits for one under way, so the process never exits in the middle of it.
    """

    def __init__(self, cluster: LocalCluster, delay_s: float = DASHBOARD_DELAY_S) -> None:
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._cluster = cluster
        self._delay_s = delay_s
        self._cancelled = threading.Event()
        self._thread = threading.Thread(target=self._attach, name="zeekflow-dashboard", daemon=True)
        self._thread.start()

    def _attach(self) -> None:
        if self._cancelled.wait(self._delay_s):
            self._failed(RuntimeError("the cluster closed before its dashboard was attached"))
            return
        try:
            import distributed.dashboard.scheduler as dashboard
        except BaseException as error:  # no Bokeh: the plain routes stay
            self._failed(error)
            return
        scheduler = self._cluster.scheduler

        def mount() -> None:
            try:
                # "/": the HTTP prefix the scheduler was started with (Dask's default; it is not kept).
                dashboard.connect(scheduler.http_application, scheduler.http_server, scheduler, prefix="/")
            except BaseException as error:
                self._failed(error)
            else:
                self.ready.set()

        try:
            self._cluster.loop.add_callback(mount)
        except BaseException as error:  # the cluster closed first
            self._failed(error)

    def _failed(self, error: BaseException) -> None:
        self.error = error
        self.ready.set()

    def finish(self) -> None:
        self._cancelled.set()
        self._thread.join()
