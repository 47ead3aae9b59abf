"""The dashboard's zeekflow page: every run's progress as a whole, served by the scheduler.

Dask's progress bars count the tasks submitted so far, and a run submits at most its window at a time ("0 / 63"
on a run of 392 partitions). Each run publishes its counters to the scheduler (``workflows/runstate.py``); this
module, loaded in the scheduler process by ``RunPagePlugin``, serves them beside the Dask dashboard:
``/zeekflow`` (a page that refreshes itself every second) and ``/zeekflow/runs.json`` (the figures it shows).
"""

from __future__ import annotations

import json
import time
from typing import Any, Mapping

from distributed.diagnostics.plugin import SchedulerPlugin
from distributed.http.utils import RequestHandler

from .progress import Progress

RUNS_KEY = "zeekflow-runs"  # the scheduler metadata key under which each run's counters sit, by run id
PAGE_PATH = "/zeekflow"
RUNS_PATH = PAGE_PATH + "/runs.json"
KEEP_FINISHED = 20  # runs whose client has gone that the page still shows, the latest ones
COUNTERS = ("partitions_done", "partitions_total", "lines", "rejected", "bytes_in", "bytes_in_total", "bytes_out",
            "work_dir_bytes")
STATES = ("running", "done", "failed")


def _count(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0


def _seconds(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0 else 0.0


def run_view(run_id: str, published: Mapping[str, Any], connected: bool) -> dict[str, Any]:
    """What the page shows of one run, from the counters its client published.

    Only the known counters are taken, as non-negative numbers. A run still ``running`` whose client has left
    the scheduler (killed, or its connection lost) is shown as ``stopped``: its figures are its last ones.
    """
    view: dict[str, Any] = {name: _count(published.get(name)) for name in COUNTERS}
    state = published.get("state")
    state = state if state in STATES else "running"
    if state == "running" and not connected:
        state = "stopped"
    progress = Progress(view["partitions_done"], view["partitions_total"], view["lines"], view["rejected"],
                        view["bytes_in"], view["bytes_in_total"], _seconds(published.get("elapsed_s")))
    eta = progress.eta_s if state == "running" else None
    task_prefix = published.get("task_prefix")
    view.update(
        run=run_id,
        task_prefix=task_prefix if isinstance(task_prefix, str) else "",
        state=state,
        started=_seconds(published.get("started")),
        elapsed_s=round(progress.elapsed_s, 3),
        lines_per_s=round(progress.lines_per_s, 1),
        eta_s=None if eta is None else round(eta, 1),
    )
    return view


def runs_view(runs: Mapping[str, Any], clients: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Every run the scheduler knows, those in progress first, each group oldest first."""
    views = [run_view(str(run_id), published, published.get("client") in clients)
             for run_id, published in runs.items() if isinstance(published, Mapping)]
    return sorted(views, key=lambda view: (view["state"] != "running", view["started"]))


def prune(runs: Mapping[str, Any], clients: Mapping[str, Any], keep: int = KEEP_FINISHED) -> dict[str, Any]:
    """The runs to keep: every one whose client is connected, and the ``keep`` latest of the others."""
    runs = {run_id: published for run_id, published in runs.items() if isinstance(published, Mapping)}
    gone = [run_id for run_id, published in runs.items() if published.get("client") not in clients]
    dropped = set(gone[:max(0, len(gone) - keep)])  # the metadata dict keeps the order runs started in
    return {run_id: published for run_id, published in runs.items() if run_id not in dropped}


def _runs(scheduler) -> Mapping[str, Any]:
    runs = scheduler.get_metadata([RUNS_KEY], default={})
    return runs if isinstance(runs, Mapping) else {}


class RunsHandler(RequestHandler):
    """``/zeekflow/runs.json``: every run's figures, as ``runs_view`` gives them."""

    def get(self) -> None:
        self.set_header("Content-Type", "application/json")
        self.set_header("Cache-Control", "no-store")
        views = runs_view(_runs(self.server), self.server.clients)
        self.write(json.dumps({"now": round(time.time(), 3), "runs": views}))


class PageHandler(RequestHandler):
    """``/zeekflow``: the page, which fetches runs.json every second."""

    def get(self) -> None:
        self.set_header("Content-Type", "text/html; charset=utf-8")
        self.write(PAGE)


def install(scheduler) -> None:
    """Add the page's routes to the scheduler's HTTP server (the dashboard's), once."""
    application = getattr(scheduler, "http_application", None)
    if application is None or getattr(application, "zeekflow_run_page", False):
        return
    application.add_handlers(r".*$", [
        (RUNS_PATH.replace(".", r"\."), RunsHandler, {"dask_server": scheduler}),
        (PAGE_PATH + "/?", PageHandler, {"dask_server": scheduler}),
    ])
    application.zeekflow_run_page = True


class RunPagePlugin(SchedulerPlugin):
    """Serves the zeekflow page from the scheduler process (an embedded cluster's or a remote ``dask
    scheduler``, which needs zeekflow importable, as its workers do). Registered by every run, kept once."""

    name = "zeekflow-run-page"
    idempotent = True

    def start(self, scheduler) -> None:
        install(scheduler)

    def remove_client(self, scheduler, client: str) -> None:
        # Runs stay shown after their client leaves (their last state), but not forever on a long-lived cluster.
        runs = _runs(scheduler)
        kept = prune(runs, scheduler.clients)
        if len(kept) < len(runs):
            scheduler.set_metadata([RUNS_KEY], kept)


# The page: the figures of runs.json, one section a run, refreshed every second. Values are set as text only.
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>zeekflow runs</title>
<style>
  body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 1.5em 2em; color: #222; }
  h1 { font-size: 1.4em; margin: 0 0 .2em; }
  nav { margin-bottom: 1.2em; color: #666; }
  section { border: 1px solid #ccc; border-radius: 6px; padding: .8em 1.2em; margin-bottom: 1.2em; max-width: 56em; }
  h2 { font-size: 1.05em; margin: 0 0 .6em; font-family: monospace; }
  .state { font-family: sans-serif; padding: .1em .5em; border-radius: 3px; color: #fff; background: #1f77b4; }
  .state-done { background: #2ca02c; } .state-failed, .state-stopped { background: #d62728; }
  progress { width: 100%; height: 1.2em; margin-bottom: .6em; }
  table { border-collapse: collapse; }
  th { text-align: left; font-weight: normal; color: #555; padding: .15em 1.5em .15em 0; }
  td { font-variant-numeric: tabular-nums; text-align: right; padding: .15em 0; }
  #empty { color: #666; }
</style>
</head>
<body>
<h1>zeekflow runs</h1>
<nav><a href="/status">Dask dashboard</a> &middot; <a href="/zeekflow/runs.json">runs.json</a> &middot;
  <span id="updated"></span></nav>
<p id="empty" hidden>No zeekflow run on this scheduler yet.</p>
<div id="runs"></div>
<script>
const ROWS = [
  ["Partitions", "partitions", r => `${int(r.partitions_done)} / ${int(r.partitions_total)}`],
  ["Lines", "lines", r => int(r.lines)],
  ["Lines/s", "lines_per_s", r => int(Math.round(r.lines_per_s))],
  ["Rejected", "rejected", r => int(r.rejected)],
  ["Bytes in", "bytes_in", r => `${size(r.bytes_in)} of ${size(r.bytes_in_total)}`],
  ["Bytes out", "bytes_out", r => size(r.bytes_out)],
  ["Work dir holds", "work_dir_bytes", r => size(r.work_dir_bytes)],
  ["Elapsed", "elapsed", r => clock(r.elapsed_s)],
  ["ETA", "eta", r => r.eta_s === null ? "--:--" : clock(r.eta_s)],
];
const int = n => Number(n).toLocaleString("en-US");
function size(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return i ? `${n.toFixed(1)} ${units[i]}` : `${n} B`;
}
function clock(s) {
  s = Math.floor(s);
  const h = Math.floor(s / 3600), m = Math.floor(s % 3600 / 60), pad = x => String(x).padStart(2, "0");
  return h ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}
function element(tag, attributes, text) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes || {})) node.setAttribute(name, value);
  if (text !== undefined) node.textContent = text;
  return node;
}
function section(run) {
  const node = element("section", {"data-run": run.run, "data-state": run.state});
  const title = element("h2", {}, `${run.task_prefix || run.run} `);
  title.append(element("span", {class: `state state-${run.state}`, "data-field": "state"}, run.state));
  node.append(title);
  const bar = element("progress", {max: Math.max(run.bytes_in_total, 1)});
  bar.value = run.state === "done" ? Math.max(run.bytes_in_total, 1) : run.bytes_in;
  node.append(bar);
  const table = element("table");
  for (const [label, field, show] of ROWS) {
    const row = element("tr");
    row.append(element("th", {}, label), element("td", {"data-field": field}, show(run)));
    table.append(row);
  }
  node.append(table);
  return node;
}
async function refresh() {
  try {
    const response = await fetch(location.pathname.replace(/\\/?$/, "/runs.json"), {cache: "no-store"});
    const data = await response.json();
    document.getElementById("runs").replaceChildren(...data.runs.map(section));
    document.getElementById("empty").hidden = data.runs.length > 0;
    document.getElementById("updated").textContent = `updated ${new Date(data.now * 1000).toLocaleTimeString()}`;
  } catch (error) {
    document.getElementById("updated").textContent = `scheduler not reachable (${error})`;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
"""
