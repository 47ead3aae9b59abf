"""The options of a conversion, as one validated object shared by the library and the CLI."""

from __future__ import annotations

import os
from dataclasses import dataclass

from dask.utils import parse_bytes

from .errors import UsageError

DEFAULT_WINDOW = 64
DEFAULT_PARTITION_SIZE = 64 * 2**20
DEFAULT_LOG_TYPE = "conn"


def parse_size(text: str | int) -> int:
    """``"64MiB"``, ``"1KiB"``, ``"1GB"`` or a plain number of bytes, at least 1."""
    if isinstance(text, int):
        size = text
    else:
        try:
            size = parse_bytes(text)
        except (ValueError, TypeError):
            raise UsageError(f"invalid size {text!r}: use a number of bytes or units like 1KiB, 64MiB, 1GB") from None
    if size < 1:
        raise UsageError(f"invalid size {text!r}: must be at least 1 byte")
    return int(size)


@dataclass
class ConvertOptions:
    """Everything that shapes one run. ``work_dir`` and ``rejects`` default to names beside ``output``."""

    inputs: list[str]
    output: str
    scheduler: str | None = None
    workers: int | None = None
    window: int = DEFAULT_WINDOW
    partition_size: int = DEFAULT_PARTITION_SIZE
    work_dir: str | None = None
    rejects: str | None = None
    max_errors: int | None = None
    columns: list[str] | None = None
    log_type: str = DEFAULT_LOG_TYPE
    resume: bool = False
    summary_json: str | None = None
    retries: int = 2
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.inputs, str):
            self.inputs = [self.inputs]
        if self.work_dir is None:
            self.work_dir = self.output + ".parts"
        if self.rejects is None:
            self.rejects = self.output + ".rejects.ndjson"
        if isinstance(self.partition_size, str):
            self.partition_size = parse_size(self.partition_size)

    def validate(self) -> None:
        """Check option values (not the files): raises UsageError naming the option and the fix."""
        if not self.inputs:
            raise UsageError("no input given")
        for name, value, least in (("--window", self.window, 1), ("--workers", self.workers, 1),
                                   ("--max-errors", self.max_errors, 0), ("--partition-size", self.partition_size, 1),
                                   ("retries", self.retries, 0)):
            if value is not None and value < least:
                raise UsageError(f"{name} must be at least {least}, got {value}")
        if self.scheduler is not None and self.workers is not None:
            raise UsageError("--workers sizes the embedded LocalCluster; it cannot be used with --scheduler")
        if os.path.isdir(self.output):
            raise UsageError(f"output {self.output} is a directory; give a file name such as {self.output}/conn.csv")
