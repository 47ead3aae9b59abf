"""The run summary: the numbers a user checks after a run, as text and as JSON."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

from .errors import display_name


@dataclass
class Summary:
    """Totals of a run. ``lines == rows + rejected + blank`` always holds."""

    inputs: list[str]
    output: str
    rejects: str
    input_bytes: int = 0
    output_bytes: int = 0
    lines: int = 0
    rows: int = 0
    rejected: int = 0
    blank: int = 0
    partitions: int = 0
    workers: int = 0
    worker_kind: str | None = None  # the embedded cluster's: "threads" or "processes"; None on a remote one
    window: int = 0
    max_in_flight: int = 0
    reused_partitions: int = 0
    retried_tasks: int | None = 0  # reruns after a lost worker or a task error; None when the scheduler can't count
    duration_s: float = 0.0
    # The workers' busy time: how long this run's tasks ran, summed. Over workers x duration_s, it shows how
    # much of the run the workers spent converting (start-up, scheduling and the final join are the rest).
    task_seconds: float = 0.0
    lines_per_s: float = 0.0
    # Which path converted the blocks: "native" (the C kernel), "python", or "native+python" when some tasks
    # could not use the kernel (TSV, Parquet, --ts-format, or workers where it was not built).
    kernel: str = ""
    dashboard: str | None = None
    run_page: str | None = None  # the dashboard's zeekflow page (workflows/runpage.py); None when not served
    columns: list[str] = field(default_factory=list)
    log_type: str = ""
    tsv_inputs: list[str] = field(default_factory=list)  # inputs read as Zeek TSV; the others were NDJSON
    dropped_fields: dict[str, int] = field(default_factory=dict)
    zeek_version: str | None = None  # the Zeek version of the shipped schema the columns come from
    # Dropped keys that are columns of the log type in other Zeek versions, one line per group of versions,
    # each naming the option that keeps them.
    other_versions: list[str] = field(default_factory=list)
    # How the TSV inputs' headers, which are the run's schema, differ from the log type's shipped schema.
    tsv_headers: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        """The summary as JSON-ready data; file names always valid UTF-8 (see ``display_name``)."""
        data = asdict(self)
        for key in ("output", "rejects"):
            data[key] = display_name(data[key])
        for key in ("inputs", "tsv_inputs"):
            data[key] = [display_name(path) for path in data[key]]
        return data

    def write_json(self, path: str) -> None:
        temporary = path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(self.to_dict(), f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(temporary, path)

    def _busy(self) -> str:
        if not (self.workers and self.duration_s):
            return ""
        return f" ({self.task_seconds / (self.workers * self.duration_s):.0%} of {self.workers} x duration)"

    def report(self) -> str:
        """The end-of-run report, one fact a line."""
        mb = self.input_bytes / 1e6
        errors = f"{self.rejected:,} rejected lines"
        if self.rejected:
            errors += f" (kept in {display_name(self.rejects)})"
        lines = [
            f"Processed:     {self.lines:,} lines ({self.rows:,} rows, {self.rejected:,} rejected, "
            f"{self.blank:,} blank) from {mb:,.1f} MB in {self.partitions:,} partitions",
            f"Workers:       {self.workers}{f' {self.worker_kind}' if self.worker_kind else ''}",
            f"Window:        {self.window}",
            f"Max in-flight: {self.max_in_flight}",
            f"Errors:        {errors}",
            f"Duration:      {self.duration_s:,.2f} s",
            f"Task time:     {self.task_seconds:,.2f} s on the workers{self._busy()}",
            f"Kernel:        {self.kernel}",
            f"Rate:          {self.lines_per_s:,.0f} lines/s ({mb / self.duration_s if self.duration_s else 0:,.1f} MB/s)",
            f"Output:        {display_name(self.output)} ({self.output_bytes / 1e6:,.1f} MB)",
        ]
        if self.retried_tasks:
            plural = "s" if self.retried_tasks != 1 else ""
            lines.append(f"Retried:       {self.retried_tasks:,} task{plural} (lost worker or task error)")
        if self.reused_partitions:
            lines.append(f"Reused:        {self.reused_partitions:,} partitions from an interrupted run")
        if self.dropped_fields:
            dropped = ", ".join(f"{k} ({v:,})" for k, v in sorted(self.dropped_fields.items()))
            lines.append(f"Dropped keys:  {dropped}")
        lines.extend(f"Other Zeek:    {hint}" for hint in self.other_versions)
        lines.extend(f"TSV headers:   {difference}" for difference in self.tsv_headers)
        return "\n".join(lines)
