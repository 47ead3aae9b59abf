"""The embedded cluster's Bokeh dashboard, mounted when somebody asks for it.

Importing Bokeh and Dask's dashboard takes 0.6-0.9 s of CPU, as long as starting the rest of the embedded
cluster, and on two cores a run pays for it in lines converted. Dask does it before the scheduler listens;
here the scheduler starts with its plain HTTP routes on loopback (the same port, so the link is known at
once), and the first request for a page the scheduler does not serve itself (``/status``, the printed link)
imports the dashboard in a thread, mounts it on the scheduler's HTTP server from the scheduler's event loop
and redirects to the page asked for, which Bokeh then serves. A run nobody watches never imports it.
"""

from __future__ import annotations

import asyncio
import threading

from distributed import LocalCluster, Worker
from tornado import web

__all__ = ["LoopbackWorker", "OnDemandDashboard"]


class LoopbackWorker(Worker):
    """A worker thread whose HTTP routes (health, metrics) listen on loopback without the Bokeh worker
    dashboard: Dask's ``worker_dashboard_address`` would import Bokeh before the cluster starts."""

    def __init__(self, *args, **kwargs) -> None:
        kwargs["dashboard"] = False
        if kwargs.get("dashboard_address") is None:  # LocalCluster passes None for "no worker dashboard"
            kwargs["dashboard_address"] = "127.0.0.1:0"
        super().__init__(*args, **kwargs)


class _MountThenRedirect(web.RequestHandler):
    """Any page the scheduler's own routes do not serve: mount the dashboard, then send the browser back to
    the same address, where Bokeh answers (404 when the dashboard cannot be mounted: no Bokeh)."""

    def initialize(self, dashboard: "OnDemandDashboard") -> None:
        self.dashboard = dashboard

    async def get(self) -> None:
        if not await self.dashboard.mount():
            raise web.HTTPError(404)
        self.redirect(self.request.uri)

    head = get


class OnDemandDashboard:
    """Mounts Dask's scheduler dashboard on ``cluster``'s scheduler at the first request for it.

    ``mount()`` (a coroutine on the scheduler's loop) does it at most once, whoever asks first; ``ready`` is
    set once the dashboard serves its pages or will not (``error`` says why). ``finish`` waits for an import
    under way, so the process never exits in the middle of it.
    """

    def __init__(self, cluster: LocalCluster) -> None:
        self.ready = threading.Event()
        self.error: BaseException | None = None
        self._cluster = cluster
        self._mounting: asyncio.Future | None = None
        self._idle = threading.Event()  # no import under way
        self._idle.set()
        self._trigger = web.Application([(r"/.*", _MountThenRedirect, {"dashboard": self})])
        cluster.scheduler.http_application.add_application(self._trigger)

    async def mount(self) -> bool:
        """Mount the dashboard unless it is already; True once it serves its pages."""
        if self._mounting is None:
            self._mounting = asyncio.ensure_future(self._mount())
        await asyncio.shield(self._mounting)
        return self.error is None

    async def _mount(self) -> None:
        self._idle.clear()
        try:
            dashboard = await asyncio.get_running_loop().run_in_executor(None, _import_dashboard)
            scheduler = self._cluster.scheduler
            # The scheduler's own routes come first, then the applications in the order they were added:
            # the trigger must go for Bokeh's pages to be reached.
            scheduler.http_application.applications.remove(self._trigger)
            # "/": the HTTP prefix the scheduler was started with (Dask's default; it is not kept).
            dashboard.connect(scheduler.http_application, scheduler.http_server, scheduler, prefix="/")
        except BaseException as error:  # no Bokeh, or the cluster closed meanwhile: the plain routes stay
            self.error = error
        finally:
            self.ready.set()
            self._idle.set()

    def finish(self) -> None:
        self._idle.wait()


def _import_dashboard():
    import distributed.dashboard.scheduler as dashboard

    return dashboard
