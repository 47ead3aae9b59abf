"""The options of a conversion, as one validated object shared by the library and the CLI."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from dask.utils import byte_sizes, parse_bytes

from .errors import UsageError
from .normalize import TS_FORMATS

DEFAULT_WINDOW = 64
DEFAULT_PARTITION_SIZE = 64 * 2**20
# A run is refused above this many partitions: the client holds one record per partition, and tasks of a few
# bytes spend their time in scheduling. At the default 64 MiB this is 64 TiB of input.
MAX_PARTITIONS = 1_000_000
_UNIT = re.compile(r"[A-Za-z]*$")
OUTPUT_FORMATS = ("csv", "parquet")
WORKER_KINDS = ("auto", "threads", "processes")


def parse_size(text: str | int) -> int:
    """``"64MiB"``, ``"1KiB"``, ``"1GB"`` or a plain number of bytes: a whole number of bytes, at least 1.

    ``"1.5KiB"`` is 1536 bytes; ``"1.5"`` is refused (dask's ``parse_bytes`` would silently make it 1 byte).
    """
    if isinstance(text, int):
        size = text
    else:
        try:
            size = parse_bytes(text)
        except (ValueError, TypeError):
            raise UsageError(f"invalid size {text!r}: use a number of bytes or units like 1KiB, 64MiB, 1GB") from None
        compact = text.replace(" ", "")
        unit = _UNIT.search(compact).group()
        try:
            exact = Decimal(compact[: len(compact) - len(unit)] or "1") * byte_sizes[unit.lower()]
        except (InvalidOperation, KeyError):
            exact = Decimal(size)
        if exact != exact.to_integral_value():
            raise UsageError(f"invalid size {text!r}: {exact} is not a whole number of bytes; "
                             "give whole bytes or a unit, e.g. 2 or 1KiB")
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
    worker_kind: str = "auto"  # the embedded cluster's workers: threads, processes, or auto (cluster.py)
    window: int = DEFAULT_WINDOW
    partition_size: int = DEFAULT_PARTITION_SIZE
    work_dir: str | None = None
    rejects: str | None = None
    max_errors: int | None = None
    columns: list[str] | None = None
    log_type: str | None = None  # None: detected from #path, _path or the file name
    schema: str | None = None  # a Zeek logschema export (JSON or CSV) whose logs' schemas the run uses
    zeek_version: str | None = None  # the shipped schemas of this Zeek version (e.g. "5.2"); None: the newest
    ts_format: str | None = None  # None: time values as the input wrote them
    csv_safe: bool = False
    output_format: str | None = None  # None: parquet when OUTPUT ends in .parquet, else csv
    single_file: bool = False  # Parquet: one file instead of a dataset folder
    dataset: bool = False  # CSV: a folder of part files (dataset.py); Parquet output is one already
    resume: bool = False
    summary_json: str | None = None
    retries: int = 2
    tls_ca: str | None = None
    tls_cert: str | None = None
    tls_key: str | None = None
    enrich: list[str] | None = None  # --enrich: community_id, geo, asn, intel (workflows/enrich/)
    community_id_seed: int = 0
    community_id_hex: bool = False
    geoip_db: str | None = None
    asn_db: str | None = None
    intel: str | None = None

    def __post_init__(self) -> None:
        if isinstance(self.inputs, str):
            self.inputs = [self.inputs]
        if self.dataset and len(self.output) > 1:
            self.output = self.output.rstrip("/") or self.output  # a folder named "conn/": OUTPUT.tmp beside it
        if self.work_dir is None:
            self.work_dir = self.output + ".parts"
        if self.rejects is None:
            self.rejects = self.output + ".rejects.ndjson"
        if isinstance(self.partition_size, str):
            self.partition_size = parse_size(self.partition_size)
        if self.output_format is None:
            self.output_format = "parquet" if self.output.endswith(".parquet") else "csv"

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
        if self.worker_kind not in WORKER_KINDS:
            raise UsageError(f"--worker-kind must be one of {', '.join(WORKER_KINDS)}, got {self.worker_kind!r}")
        if self.scheduler is not None and self.worker_kind != "auto":
            raise UsageError("--worker-kind chooses the embedded LocalCluster's workers; it cannot be used with "
                             "--scheduler")
        if self.output_format not in OUTPUT_FORMATS:
            raise UsageError(f"--format must be one of {', '.join(OUTPUT_FORMATS)}, got {self.output_format!r}")
        if self.ts_format is not None and self.ts_format not in TS_FORMATS:
            raise UsageError(f"--ts-format must be one of {', '.join(TS_FORMATS)}, got {self.ts_format!r}")
        if self.output_format == "parquet" and (self.csv_safe or self.ts_format):
            raise UsageError("--csv-safe and --ts-format shape CSV text; Parquet stores typed values "
                             "(time as timestamp[us, UTC]), so they do not apply")
        if self.zeek_version is not None:
            from .schema import zeek_version

            try:
                self.zeek_version = zeek_version(self.zeek_version)
            except ValueError as error:
                raise UsageError(str(error)) from None
        if self.single_file and self.output_format != "parquet":
            raise UsageError("--single-file applies to Parquet output only")
        if self.dataset and self.single_file:
            raise UsageError("--dataset writes a folder of part files and --single-file one file; choose one")
        if os.path.isdir(self.output) and self.output_format != "parquet" and not self.dataset:
            raise UsageError(f"output {self.output} is a directory; give a file name such as {self.output}/conn.csv")
