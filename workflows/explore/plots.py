"""Interactive bokeh pictures of the summaries: hover for the numbers, pan and zoom on time.

Each function takes the pandas table a summary returned and gives back a bokeh model; showing it (in a
notebook with ``bokeh.io.output_notebook()`` then ``show``, or saved to HTML) is the caller's choice.
"""

from __future__ import annotations

import pandas as pd
from bokeh.layouts import column
from bokeh.models import ColumnDataSource, HoverTool, NumeralTickFormatter
from bokeh.plotting import figure

_WIDTH = 760
_BAR_COLOR = "#4c78a8"
_ALERT_COLOR = "#e45756"


def bar_chart(
    table: pd.DataFrame,
    label: str,
    value: str,
    title: str,
    tooltips: list[tuple[str, str]] | None = None,
    value_format: str = "0,0",
) -> figure:
    """Horizontal bars of ``value`` per ``label``, in the table's order from the top."""
    data = table.copy()
    data["_label"] = data[label].astype(str)
    source = ColumnDataSource(data)
    labels = list(reversed(data["_label"].tolist()))  # bokeh draws factors bottom-up
    plot = figure(y_range=labels, height=max(160, 28 * len(labels) + 70), width=_WIDTH, title=title,
                  toolbar_location="right", tools="save,reset")
    plot.hbar(y="_label", right=value, height=0.7, source=source, color=_BAR_COLOR)
    plot.xaxis.formatter = NumeralTickFormatter(format=value_format)
    plot.x_range.start = 0
    plot.add_tools(HoverTool(tooltips=tooltips or [(label, "@_label"), (value, f"@{{{value}}}{{{value_format}}}")]))
    return plot


def plot_top_talkers(table: pd.DataFrame) -> figure:
    return bar_chart(table, "host", "total_bytes", "Top talkers by payload bytes", value_format="0.0 b", tooltips=[
        ("host", "@host"), ("connections", "@connections{0,0}"), ("sent", "@orig_bytes{0.0 b}"),
        ("received", "@resp_bytes{0.0 b}"), ("total", "@total_bytes{0.0 b}")])


def plot_top_ports(table: pd.DataFrame) -> figure:
    data = table.assign(where=table["port"].astype(str) + "/" + table["proto"].astype(str))
    return bar_chart(data, "where", "connections", "Top destination ports by connections", tooltips=[
        ("port", "@where"), ("connections", "@connections{0,0}"), ("bytes", "@total_bytes{0.0 b}")])


def plot_top_services(table: pd.DataFrame) -> figure:
    return bar_chart(table, "service", "connections", "Services by connections", tooltips=[
        ("service", "@service"), ("connections", "@connections{0,0}"), ("bytes", "@total_bytes{0.0 b}")])


def plot_conn_states(table: pd.DataFrame) -> figure:
    return bar_chart(table, "conn_state", "connections", "How connections ended (conn_state)", tooltips=[
        ("state", "@conn_state"), ("connections", "@connections{0,0}"), ("share", "@share{0.0%}"),
        ("meaning", "@meaning")])


def plot_traffic(table: pd.DataFrame):
    """Connections and payload bytes per time bin, two panels sharing the time axis (pan/zoom together)."""
    source = ColumnDataSource(table)
    interval = table.attrs.get("interval_s", "")
    tools = "xpan,xwheel_zoom,box_zoom,reset,save"
    connections = figure(x_axis_type="datetime", width=_WIDTH, height=240, tools=tools,
                         title=f"Connections per {interval} s bin (by start time, UTC)")
    connections.line("start", "connections", source=source, color=_BAR_COLOR, line_width=2)
    connections.yaxis.formatter = NumeralTickFormatter(format="0,0")
    connections.add_tools(HoverTool(tooltips=[("bin start", "@start{%F %T}"), ("connections", "@connections{0,0}")],
                                    formatters={"@start": "datetime"}, mode="vline"))
    volume = figure(x_axis_type="datetime", width=_WIDTH, height=240, tools=tools, x_range=connections.x_range,
                    title="Payload bytes per bin")
    volume.line("start", "total_bytes", source=source, color=_ALERT_COLOR, line_width=2)
    volume.yaxis.formatter = NumeralTickFormatter(format="0.0 b")
    volume.add_tools(HoverTool(tooltips=[("bin start", "@start{%F %T}"), ("bytes", "@total_bytes{0.0 b}")],
                               formatters={"@start": "datetime"}, mode="vline"))
    return column(connections, volume)


def plot_scan_sources(table: pd.DataFrame) -> figure:
    """Each candidate source: distinct targets against the share of failed attempts (dot size: connections)."""
    data = table.copy()
    biggest = max(int(data["connections"].max()), 1) if len(data) else 1
    data["_size"] = 8 + 24 * (data["connections"] / biggest) ** 0.5
    source = ColumnDataSource(data)
    plot = figure(width=_WIDTH, height=320, x_axis_type="log" if len(data) > 1 else "linear", y_range=(0, 1.05),
                  title="Scan-like sources: distinct destinations vs share of S0/REJ attempts",
                  x_axis_label="distinct destinations (host:port)", y_axis_label="S0 + REJ share",
                  tools="pan,wheel_zoom,box_zoom,reset,save")
    plot.scatter("targets", "failed_share", size="_size", source=source, color=_ALERT_COLOR, alpha=0.7)
    plot.yaxis.formatter = NumeralTickFormatter(format="0%")
    plot.add_tools(HoverTool(tooltips=[("host", "@host"), ("targets", "@targets{0,0}"),
                                       ("hosts", "@dest_hosts{0,0}"), ("connections", "@connections{0,0}"),
                                       ("S0/REJ", "@failed_share{0.0%}")]))
    return plot


def plot_memory(table: pd.DataFrame):
    """Peak worker memory and throughput against input size (see ``memory.memory_profile``)."""
    data = table.assign(input_mb=table["input_bytes"] / 1e6, peak_mb=table["peak_worker_rss_bytes"] / 2**20,
                        baseline_mb=table["baseline_worker_rss_bytes"] / 2**20)
    source = ColumnDataSource(data)
    memory = figure(width=_WIDTH, height=280, title="Peak worker memory (RSS) vs input size",
                    x_axis_label="input (MB)", y_axis_label="MiB", tools="save,reset")
    memory.line("input_mb", "peak_mb", source=source, color=_ALERT_COLOR, line_width=2, legend_label="peak")
    memory.scatter("input_mb", "peak_mb", source=source, color=_ALERT_COLOR, size=8)
    memory.line("input_mb", "baseline_mb", source=source, color="gray", line_dash="dashed",
                legend_label="idle worker")
    memory.y_range.start = 0
    memory.legend.location = "bottom_right"
    memory.add_tools(HoverTool(tooltips=[("input", "@input_mb{0,0.0} MB"), ("peak", "@peak_mb{0,0} MiB"),
                                         ("partitions", "@partitions")]))
    speed = figure(width=_WIDTH, height=280, title="Throughput vs input size", x_range=memory.x_range,
                   x_axis_label="input (MB)", y_axis_label="MB/s", tools="save,reset")
    speed.line("input_mb", "mb_per_s", source=source, color=_BAR_COLOR, line_width=2)
    speed.scatter("input_mb", "mb_per_s", source=source, color=_BAR_COLOR, size=8)
    speed.y_range.start = 0
    speed.add_tools(HoverTool(tooltips=[("input", "@input_mb{0,0.0} MB"), ("rate", "@mb_per_s{0,0.0} MB/s"),
                                        ("lines/s", "@lines_per_s{0,0}")]))
    return column(memory, speed)
