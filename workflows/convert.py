"""Run a conversion end to end: check, plan, run the window on a cluster, concatenate, summarise."""

from __future__ import annotations

import os
import stat
import time
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from dask.base import tokenize

from .cluster import check_workers_see, dashboard_link, embedded_worker_kind, open_client, tls_security, worker_count
from .commit import CommittedJoin
from .concat import OrderedConcat, aborted_on_error
from .dataset import DatasetParts, check_dataset_output
from .errors import RunFailed, TooManyRejects, UsageError
from .inputs import compression_of, expand_inputs, recognise
from .manifest import Manifest, identity, output_shaping
from .options import MAX_PARTITIONS, ConvertOptions
from .plan import InputFile, Partition, plan_partitions, same_file, stat_input
from .progress import Progress, Reporter
from .records import ShardInfo, TaskSpec
from .render import csv_header
from .runstate import RunBoard
from .schema import Column, LogSchema, version_hints
from .summary import Summary
from .window import SchedulerLost, TaskFailed, key_name, run_window
from .workdir import RunFiles, check_written_paths
from .workfiles import rejects_shard_name, shard_name

if TYPE_CHECKING:
    from .enrich.columns import EnrichSpec


@dataclass(frozen=True)
class Job:
    """A checked, planned run: inputs as seen at planning time, output columns, and the partitions."""

    options: ConvertOptions
    inputs: tuple[InputFile, ...]
    columns: tuple[Column, ...]
    partitions: tuple[Partition, ...]
    log_type: str = "conn"
    tsv_inputs: tuple[str, ...] = ()
    cut_headers: tuple = ()
    enrich: "EnrichSpec | None" = None
    schema: LogSchema | None = None  # the schema the columns come from (a shipped one knows other versions')
    header_report: tuple[str, ...] = ()  # how the TSV headers differ from the shipped schema they override

    @property
    def output_columns(self) -> tuple[Column, ...]:
        """The log's columns, then the enrichment columns (``--enrich``)."""
        return self.columns + (self.enrich.columns if self.enrich is not None else ())

    @property
    def worker_kind(self) -> str:
        """The embedded cluster's workers: ``--worker-kind``, or for ``auto`` threads where the native kernel does
        the hot work (it releases the GIL), processes where Python does (no kernel, ``--enrich``, ``--ts-format``,
        ``--csv-safe``, Parquet from TSV)."""
        if self.options.worker_kind != "auto":
            return self.options.worker_kind
        options = self.options
        python_heavy = (self.enrich is not None or options.ts_format or options.csv_safe
                        or (options.output_format == "parquet" and (self.tsv_inputs or self.cut_headers)))
        return "processes" if python_heavy else embedded_worker_kind("auto")

    @property
    def input_bytes(self) -> int:
        return sum(source.size for source in self.inputs)

    @property
    def spec(self) -> TaskSpec:
        return TaskSpec(
            columns=self.columns, work_dir=os.path.abspath(self.options.work_dir), tsv_inputs=self.tsv_inputs,
            cut_headers=self.cut_headers,
            ts_format=self.options.ts_format, csv_safe=self.options.csv_safe,
            output_format=self.options.output_format, enrich=self.enrich,
            dataset=self.options.dataset and self.options.output_format == "csv",
        )

    @property
    def run_token(self) -> str:
        """Same inputs (path, size, mtime) and output-shaping options give the same token and task keys."""
        return tokenize(self.inputs, self.columns, self.options.partition_size, self.spec)

    def manifest(self) -> Manifest:
        shaping = output_shaping(self.log_type, self.options.partition_size, self.columns, self.spec)
        shaping["zeek-version"] = self.options.zeek_version
        parts_dir = os.path.abspath(self.options.output + ".tmp") if self.spec.dataset else None
        return Manifest(self.spec.work_dir, identity(self.inputs, shaping), self.partitions, parts_dir)

    def header(self) -> bytes:
        return csv_header(self.output_columns)


def _writable_dir(path: str, what: str) -> None:
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise UsageError(f"{what} folder {folder} does not exist")
    if not os.access(folder, os.W_OK):
        raise UsageError(f"{what} folder {folder} is not writable")


_SPECIAL = ((stat.S_ISFIFO, "FIFO (named pipe)"), (stat.S_ISCHR, "character device"),
            (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket"))


def _check_regular(path: str) -> None:
    """A stream or device has no size to plan from (a FIFO would hang, /dev/zero read as 0 bytes)."""
    if "://" in path:
        return
    mode = os.stat(path).st_mode
    for test, kind in _SPECIAL:
        if test(mode):
            raise UsageError(f"input {path} is a {kind}, not a regular file; save the log to a file first")


def _check_partition_count(inputs: list[InputFile], partition_size: int) -> None:
    """Refuse a plan of more than MAX_PARTITIONS before building it (a 1-byte size on a big file would not fit)."""
    compressed = sum(1 for s in inputs if compression_of(s.path))
    plain = [s.size for s in inputs if not compression_of(s.path)]
    count = compressed + sum(-(-size // partition_size) for size in plain)
    if count > MAX_PARTITIONS:
        least = -(-sum(plain) // max(1, MAX_PARTITIONS - compressed))
        hint = f"{-(-least // 2**20)}MiB" if least > 2**20 else f"{-(-least // 2**10)}KiB"
        raise UsageError(f"the inputs make {count:,} partitions at --partition-size {partition_size:,}, more than "
                         f"the {MAX_PARTITIONS:,} a run may have; give a larger --partition-size (at least {hint})")


def prepare(options: ConvertOptions) -> Job:
    """Validate options and files and plan the partitions, reading no data. Raises UsageError."""
    options.validate()
    inputs = []
    for path in expand_inputs(options.inputs):
        try:
            inputs.append(stat_input(path))
        except FileNotFoundError:
            raise UsageError(f"input {path} does not exist") from None
        except IsADirectoryError:
            raise UsageError(f"input {path} is a directory, not a log file") from None
        except PermissionError:
            raise UsageError(f"input {path} is not readable") from None
        if "://" not in path and not os.access(path, os.R_OK):
            raise UsageError(f"input {path} is not readable")
        _check_regular(path)
    _check_partition_count(inputs, options.partition_size)

    paths = [source.path for source in inputs]
    outputs = {"output": options.output, "rejects file": options.rejects, "work dir": options.work_dir}
    if options.summary_json:
        outputs["summary JSON"] = options.summary_json
    for what, path in outputs.items():
        for source in paths:
            if same_file(path, source):
                raise UsageError(f"the {what} {path} is the input {source}; choose another name")
    names = list(outputs.items())
    for i, (what, path) in enumerate(names):
        for other, other_path in names[i + 1:]:
            if os.path.abspath(path) == os.path.abspath(other_path):
                raise UsageError(f"the {what} and the {other} are both {path}; choose different names")
    _writable_dir(options.output, "output")
    _writable_dir(options.rejects, "rejects")
    if options.summary_json:
        _writable_dir(options.summary_json, "summary JSON")
    if os.path.exists(options.work_dir) and not os.path.isdir(options.work_dir):
        raise UsageError(f"work dir {options.work_dir} exists and is not a directory")
    _writable_dir(options.work_dir, "work dir parent")
    check_written_paths(options.output, options.rejects, options.work_dir, options.summary_json, paths)

    if options.output_format == "parquet":
        from .parquet import check_parquet_output

        check_parquet_output(options.output, options.single_file)
    elif options.dataset:
        check_dataset_output(options.output, options.work_dir)
    elif os.path.isdir(options.output + ".tmp"):
        raise UsageError(f"{options.output}.tmp is a folder (an interrupted --dataset run's?): finish that run "
                         "with --dataset --resume, or remove the folder")
    given = None
    if options.schema:
        from .logschema import read_logschema

        given = read_logschema(options.schema)
    recognised = recognise(paths, options.log_type, given, options.zeek_version)
    try:
        columns = recognised.log_schema().select(options.columns, recognised.header_columns)
    except ValueError as error:
        raise UsageError(str(error)) from None
    enrich = None
    if options.enrich or options.geoip_db or options.asn_db or options.intel or options.community_id_seed \
            or options.community_id_hex:
        from .enrich.prepare import enrich_spec  # an enrichment option alone is refused there

        known = [*recognised.log_schema().known(), *(recognised.header_columns or {})]
        enrich = enrich_spec(options.enrich, recognised.log_type, columns, known, seed=options.community_id_seed,
                             use_base64=not options.community_id_hex, geoip_db=options.geoip_db,
                             asn_db=options.asn_db, intel=options.intel)
    partitions = plan_partitions(inputs, options.partition_size)
    return Job(options, tuple(inputs), columns, tuple(partitions), recognised.log_type, recognised.tsv_inputs,
               recognised.cut_headers, enrich, recognised.log_schema(), recognised.header_report)


class _Totals:
    """What the client accumulates from ShardInfo records (counts only)."""

    def __init__(self, job: Job, reporter: Reporter, started: float) -> None:
        self.job = job
        self.reporter = reporter
        self.started = started
        self.infos: dict[int, ShardInfo] = {}
        self.lines = self.rows = self.rejected = self.blank = self.bytes_done = self.bytes_out = 0
        self.task_seconds = 0.0
        self.kernels: set[str] = set()
        self.dropped: Counter = Counter()
        self.lengths = {p.index: p.length for p in job.partitions}
        self.board: RunBoard | None = None  # the dashboard's run page, once the cluster is up

    def record(self, info: ShardInfo) -> None:
        self.infos[info.index] = info
        self.lines += info.lines
        self.rows += info.rows
        self.rejected += info.rejected
        self.blank += info.blank
        self.bytes_done += self.lengths[info.index]
        self.bytes_out += info.bytes_out
        self.dropped.update(info.dropped_fields)
        state = self.snapshot()  # reported first: a run stopped below shows the rejects that stopped it
        self.reporter.progress(state)
        if self.board is not None:
            self.board.update(state)
        max_errors = self.job.options.max_errors
        if max_errors is not None and self.rejected > max_errors:
            raise TooManyRejects(
                f"more than {max_errors} lines rejected ({self.rejected:,} so far); "
                "stopped, and the output was not written"
            )

    def snapshot(self) -> Progress:
        return Progress(
            partitions_done=len(self.infos),
            partitions_total=len(self.job.partitions),
            lines=self.lines,
            rejected=self.rejected,
            bytes_done=self.bytes_done,
            bytes_total=self.job.input_bytes,
            elapsed_s=time.perf_counter() - self.started,
            bytes_out=self.bytes_out,
        )


def convert(options: ConvertOptions, reporter: Reporter | None = None) -> Summary:
    """Convert ``options.inputs`` into ``options.output`` (CSV) and ``options.rejects``; return the summary.

    Raises UsageError before any work for bad options or unusable files, RunFailed (or TooManyRejects) when
    the run cannot finish; in both cases the final output is not written.
    """
    reporter = reporter or Reporter()
    started = time.perf_counter()
    job = prepare(options)
    security = tls_security(options.scheduler, options.tls_ca, options.tls_cert, options.tls_key)
    # Held to the end: another run on the same output, rejects file or work dir is refused meanwhile, and only
    # files this run or an earlier one of ours wrote are deleted.
    with RunFiles(options.output, options.rejects, job.spec.work_dir) as files:
        summary = _run(job, files, reporter, started, security)
    if options.summary_json:
        summary.write_json(options.summary_json)
    return summary


def _run(job: Job, files: RunFiles, reporter: Reporter, started: float, security) -> Summary:
    options = job.options
    work_dir = job.spec.work_dir
    manifest = job.manifest()
    csv_format = options.output_format == "csv"
    temp_files = [path + ".tmp" for path in ((options.output,) if csv_format else ()) + (options.rejects,)]
    if options.resume:
        # UsageError, before any work, when the inputs or options changed
        reused = manifest.resume([os.path.abspath(path) for path in temp_files])
    else:
        files.clear()
        reused = {}
        manifest.start()
    totals = _Totals(job, reporter, started)
    # CSV and rejects shards are joined into the outputs in index order as they finish, while later ones run,
    # and deleted once a batch of them is durably joined (bounded disk).
    at = None if manifest.committed is None else manifest.committed.lengths

    def resume_at(temp_file: str) -> tuple[int, int] | None:
        return None if at is None else (manifest.committed.next, at[os.path.abspath(temp_file)])

    csv_out: OrderedConcat | DatasetParts | None = None
    if job.spec.dataset:  # the CSV shards are moved into the output folder instead of joined into one file
        csv_out = DatasetParts(options.output, job.header(), resume_at(temp_files[0]), fresh=not options.resume)
    elif csv_format:
        csv_out = OrderedConcat(options.output, job.header(), resume_at(temp_files[0]))
    rejects_out = OrderedConcat(options.rejects, b"", resume_at(temp_files[-1]))
    joined = [out for out in (csv_out, rejects_out) if out is not None]
    for out in joined:
        out.temporary = os.path.abspath(out.temporary)
    committer = CommittedJoin(manifest, joined)
    first_uncommitted = 0 if manifest.committed is None else manifest.committed.next

    def join(info: ShardInfo) -> None:
        totals.record(info)
        if info.index < first_uncommitted:
            return  # already in the temp files, its shards deleted
        paths = [os.path.join(work_dir, shard_name(info.index))] if csv_out is not None else []
        committer.add(info.index, paths + [os.path.join(work_dir, rejects_shard_name(info.index))])

    def record(info: ShardInfo) -> None:
        manifest.record(info)
        totals.task_seconds += info.seconds  # this run's tasks only, not the shards --resume took over
        totals.kernels.add(info.kernel or "python")
        join(info)

    with aborted_on_error(*joined), open_client(options.scheduler, options.workers, security=security,
                                                    worker_kind=job.worker_kind) as client:
        for index in sorted(reused):
            join(reused[index])
        workers = worker_count(client)
        link = dashboard_link(client)
        board = totals.board = RunBoard(client, key_name(job.run_token), work_dir, started, totals.snapshot())
        reporter.cluster_ready(link, workers, board.link(link))
        with board:
            if options.scheduler:
                seen = [(s.path, s.size) for s in job.inputs]
                seen += [(f.path, f.size) for f in (job.enrich.files if job.enrich else ())]
                check_workers_see(client, seen, work_dir)
            try:
                stats = run_window(
                    client, [p for p in job.partitions if p.index not in reused], job.spec, job.run_token,
                    options.window, record, retries=options.retries,
                )
            except TaskFailed as error:
                raise RunFailed(f"{error}; the output was not written (shards kept in {work_dir})") from None
            except SchedulerLost as error:
                raise RunFailed(f"{error} mid-run; the output was not written (shards and manifest kept in "
                                f"{work_dir}: start the scheduler and its workers again, then rerun with --resume)"
                                ) from None
            finally:
                reporter.finished()
            missing = len(job.partitions) - len(totals.infos)
            if missing:
                raise RunFailed(f"{missing} partitions did not report; the output was not written")
            rejects_out.finish(len(job.partitions))  # first: an output under its final name has its rejects
            if csv_out is None:
                from .parquet import finish_parquet

                shards = [os.path.join(work_dir, shard_name(i, options.output_format))
                          for i in sorted(totals.infos)]
                output_bytes = finish_parquet(shards, options.output, job.output_columns, options.single_file)
            else:
                output_bytes = csv_out.finish(len(job.partitions))
            board.done(output_bytes)
    files.finished()

    duration = time.perf_counter() - started
    summary = Summary(
        inputs=[s.path for s in job.inputs],
        output=options.output,
        rejects=options.rejects,
        input_bytes=job.input_bytes,
        output_bytes=output_bytes,
        lines=totals.lines,
        rows=totals.rows,
        rejected=totals.rejected,
        blank=totals.blank,
        partitions=len(job.partitions),
        workers=workers,
        worker_kind=None if options.scheduler else job.worker_kind,
        window=options.window,
        max_in_flight=stats.max_in_flight,
        reused_partitions=len(reused),
        retried_tasks=stats.retried,
        duration_s=round(duration, 3),
        task_seconds=round(totals.task_seconds, 3),
        kernel="+".join(sorted(totals.kernels, reverse=True)) or "none",
        lines_per_s=round(totals.lines / duration, 1) if duration > 0 else 0.0,
        dashboard=link,
        run_page=board.link(link),
        columns=[c.name for c in job.output_columns],
        log_type=job.log_type,
        tsv_inputs=list(job.tsv_inputs),
        dropped_fields=dict(sorted(totals.dropped.items())),
        zeek_version=job.schema.version if job.schema is not None else None,
        other_versions=version_hints(job.schema, sorted(totals.dropped)) if job.schema is not None else [],
        tsv_headers=list(job.header_report),
    )
    return summary
