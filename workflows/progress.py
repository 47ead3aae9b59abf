"""Progress of a run: the state the library reports, and a terminal line that renders it."""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass
from typing import TextIO


@dataclass
class Progress:
    """A snapshot the library hands to its reporter after each finished partition."""

    partitions_done: int
    partitions_total: int
    lines: int
    rejected: int
    bytes_done: int
    bytes_total: int
    elapsed_s: float
    bytes_out: int = 0  # what the workers have written (the shards)

    @property
    def lines_per_s(self) -> float:
        return self.lines / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if not self.bytes_done or self.bytes_done >= self.bytes_total:
            return None
        return self.elapsed_s * (self.bytes_total - self.bytes_done) / self.bytes_done


class Reporter:
    """What the library tells the outside world during a run. The default says nothing."""

    def cluster_ready(self, dashboard: str | None, workers: int, run_page: str | None = None) -> None:
        """``run_page``: the dashboard's zeekflow page, the whole run's progress (None when not served)."""

    def progress(self, state: Progress) -> None:
        pass

    def finished(self) -> None:
        pass


def _clock(seconds: float | None) -> str:
    if seconds is None:
        return "--:--"
    seconds = int(seconds)
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60:02d}:{rest % 60:02d}"


def format_progress(state: Progress) -> str:
    percent = 100.0 * state.bytes_done / state.bytes_total if state.bytes_total else 100.0
    return (
        f"[{percent:5.1f}%] partitions {state.partitions_done:,}/{state.partitions_total:,} | "
        f"{state.lines:,} lines | {state.lines_per_s:,.0f} lines/s | {state.rejected:,} rejected | "
        f"elapsed {_clock(state.elapsed_s)} | ETA {_clock(state.eta_s)}"
    )


class TerminalReporter(Reporter):
    """Dashboard link and summary lines always; the live progress line only on a terminal."""

    def __init__(self, stream: TextIO = sys.stderr, live: bool | None = None, interval_s: float = 0.2) -> None:
        self.stream = stream
        self.live = stream.isatty() if live is None else live
        self.interval_s = interval_s
        self._last = 0.0
        self._width = 0

    def cluster_ready(self, dashboard: str | None, workers: int, run_page: str | None = None) -> None:
        where = f"dashboard: {dashboard}" if dashboard else "no dashboard (install bokeh to get one)"
        if run_page:
            where += f"   run: {run_page}"
        print(f"zeekflow: {workers} worker(s), {where}", file=self.stream, flush=True)

    def progress(self, state: Progress) -> None:
        if not self.live:
            return
        now = time.monotonic()
        if now - self._last < self.interval_s and state.partitions_done < state.partitions_total:
            return
        self._last = now
        text = format_progress(state)
        self.stream.write("\r" + text.ljust(self._width))
        self.stream.flush()
        self._width = len(text)

    def finished(self) -> None:
        if self.live and self._width:
            self.stream.write("\n")
            self.stream.flush()
