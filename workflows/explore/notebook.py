"""What a notebook needs around a conversion: a cluster to use, its dashboard as a link, live progress.

Kept here (not in the notebooks) so a user's own notebook gets the same behaviour with three calls.
"""

from __future__ import annotations

import html
import logging

from distributed import Client, LocalCluster

from ..cluster import dashboard_link, local_cluster
from ..progress import Progress, Reporter, format_progress


def connect(scheduler: str | None = None, workers: int = 2) -> Client:
    """A client of the cluster at ``scheduler``, or of a new LocalCluster of ``workers`` workers built as
    ``zeekflow convert`` builds its own (``cluster.local_cluster``: single-threaded processes with the same
    malloc settings, on loopback, the dashboard on a free port), so what a notebook measures is what a run's
    workers do. It speaks plain TCP, since a conversion from the notebook joins it by address.
    ``close(client)`` ends what was started."""
    if scheduler:
        return Client(scheduler, timeout=30)
    return Client(local_cluster(workers, silence_logs=logging.ERROR))


def close(client: Client) -> None:
    """Close the client, and the LocalCluster if ``connect`` started one."""
    cluster = client.cluster if isinstance(client.cluster, LocalCluster) else None
    client.close()
    if cluster is not None:
        cluster.close()


def _anchor(link: str) -> str:
    safe = html.escape(link, quote=True)
    return f'<a href="{safe}" target="_blank">{safe}</a>'


def dashboard_html(link: str | None, run_page: str | None = None) -> str:
    """The dashboard as a clickable link (or why there is none), and the run's own page beside it."""
    if not link:
        return "<p>No dashboard: the scheduler does not serve one (bokeh missing there?).</p>"
    run = f" &middot; run: {_anchor(run_page)}" if run_page else ""
    return f"<p>Dask dashboard: {_anchor(link)}{run}</p>"


def show_dashboard(client: Client) -> None:
    """Display the cluster's dashboard link in the notebook, as a link."""
    from IPython.display import HTML, display

    display(HTML(dashboard_html(dashboard_link(client))))


def progress_html(state: Progress) -> str:
    done = state.bytes_done if state.bytes_total else 1
    total = state.bytes_total or 1
    return (f'<progress value="{done}" max="{total}" style="width: 60%"></progress>'
            f"<pre>{html.escape(format_progress(state))}</pre>")


class NotebookReporter(Reporter):
    """Shows the dashboard link once and one progress bar updated in place as partitions finish."""

    def __init__(self, interval_s: float = 0.25) -> None:
        from IPython.display import HTML, display

        self._HTML = HTML
        self._display = display
        self._handle = None
        self.interval_s = interval_s
        self._last = 0.0
        self.last_state: Progress | None = None

    def cluster_ready(self, dashboard: str | None, workers: int, run_page: str | None = None) -> None:
        self._display(self._HTML(f"<p>{workers} worker(s)</p>{dashboard_html(dashboard, run_page)}"))
        self._handle = self._display(self._HTML("<pre>starting...</pre>"), display_id=True)

    def progress(self, state: Progress) -> None:
        import time

        self.last_state = state
        now = time.monotonic()
        if now - self._last < self.interval_s and state.partitions_done < state.partitions_total:
            return
        self._last = now
        if self._handle is not None:
            self._handle.update(self._HTML(progress_html(state)))

    def finished(self) -> None:
        if self._handle is not None and self.last_state is not None:
            self._handle.update(self._HTML(progress_html(self.last_state)))
