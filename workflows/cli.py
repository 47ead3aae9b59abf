"""Command line: parse options into one options object, call the library, map errors to exit codes.

Exit codes: 0 done, 1 the run failed (or --max-errors was exceeded), 2 bad usage or unusable input, 128 + the
signal's number when SIGINT (130), SIGHUP (129) or SIGTERM (143) stopped the run. Every error is one line on
stderr, never a traceback.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
from contextlib import contextmanager
from typing import Iterator

import click

from . import __version__
from .convert import convert as run_convert
from .errors import UsageError, ZeekflowError, display_name
from .normalize import TS_FORMATS
from .options import DEFAULT_WINDOW, OUTPUT_FORMATS, WORKER_KINDS, ConvertOptions, parse_size
from .progress import TerminalReporter
from .schema import NEWEST_VERSION, SCHEMAS

EXIT_USAGE = 2
# Stop a run as Ctrl-C does: the same cleanup (no OUTPUT.tmp, shards and manifest kept for --resume).
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP)


class Interrupted(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where SIGINT raises KeyboardInterrupt, so every cleanup path is the same."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


@contextmanager
def _signals_interrupt() -> Iterator[None]:
    """While the command runs, SIGTERM and SIGHUP raise Interrupted (once: a second one during cleanup is ignored)."""

    def stop(signum: int, frame: object) -> None:
        for other in STOP_SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        raise Interrupted(signum)

    previous = {signum: signal.signal(signum, stop) for signum in STOP_SIGNALS}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


def _name_list(empty: str):
    """A click callback for a comma-separated list of names (``None`` when the option is not given); a list of
    no name is refused with ``empty``."""

    def parse(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str] | None:
        if value is None:
            return None
        names = [name.strip() for name in value.split(",") if name.strip()]
        if not names:
            raise click.BadParameter(empty)
        return names

    return parse


_columns = _name_list("give at least one column name")
_enrichments = _name_list("name at least one of community_id, geo, asn, intel")


def _size(ctx: click.Context, param: click.Parameter, value: str) -> int:
    try:
        return parse_size(value)
    except UsageError as error:
        raise click.BadParameter(str(error)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 110})
@click.version_option(__version__, prog_name="zeekflow")
def cli() -> None:
    """Turn huge Zeek logs into analysis-ready files on Dask, with bounded memory."""


@cli.command()
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT [INPUT ...]")
# Each option's metavar and default (a value, or show_default's words when it depends on the run) are what the
# README's option tables say; tests/test_docs.py compares the two field by field.
@click.option("-o", "--output", required=True, metavar="PATH",
              help="CSV file to write (appears only when the run succeeds).")
@click.option("--scheduler", metavar="ADDRESS", show_default="an embedded LocalCluster",
              help="Use a running Dask cluster (tcp://host:8786).")
@click.option("--workers", type=click.IntRange(min=1), metavar="N", show_default="number of CPUs",
              help="LocalCluster workers.")
@click.option("--worker-kind", type=click.Choice(WORKER_KINDS), default="auto", show_default=True, metavar="KIND",
              help="LocalCluster workers as threads (the native kernel releases the GIL) or processes; "
                   "auto: threads when the kernel is built.")
@click.option("--window", type=click.IntRange(min=1), default=DEFAULT_WINDOW, show_default=True, metavar="N",
              help="Most partition tasks outstanding at once.")
@click.option("--partition-size", default="64MiB", show_default=True, callback=_size, metavar="SIZE",
              help="Byte-range size of a partition, e.g. 1KiB, 64MiB.")
@click.option("--work-dir", metavar="DIR", show_default="OUTPUT.parts", help="Where shards go; shared by all workers.")
@click.option("--rejects", metavar="PATH", show_default="OUTPUT.rejects.ndjson", help="Rejected lines file.")
@click.option("--max-errors", type=click.IntRange(min=0), metavar="N", show_default="no limit",
              help="Fail (exit 1, no output) once more than N lines are rejected.")
@click.option("--columns", callback=_columns, metavar="LIST", show_default="the log type's columns",
              help="Comma-separated columns to write, in that order.")
@click.option("--log-type", metavar="TYPE", show_default="detected",
              help=f"Log type (detected from #path, _path or the file name): one of the {len(SCHEMAS)} shipped "
              "(conn, dns, http, ssl, ...; README, Log types), or a log of --schema.")
@click.option("--schema", "schema", metavar="FILE", type=click.Path(dir_okay=False),
              help="A Zeek logschema export (JSON, CSV or JSON Schema format): the columns and types of the logs it names.")
@click.option("--zeek-version", metavar="V", show_default=f"the newest, {NEWEST_VERSION}",
              help="JSON inputs: the shipped columns of this Zeek version (3.0 to " + NEWEST_VERSION + "; 6 is 6.x's "
              "newest).")
@click.option("--format", "output_format", type=click.Choice(OUTPUT_FORMATS), metavar="FORMAT",
              show_default="parquet when OUTPUT ends in .parquet, else csv", help="Output format.")
@click.option("--single-file", is_flag=True, help="Parquet: write one file instead of a dataset folder.")
@click.option("--dataset", is_flag=True,
              help="CSV: write OUTPUT as a folder of ordered part files (part-000000.csv, ..., each with the "
                   "header) and _SUCCESS, instead of one file.")
@click.option("--ts-format", type=click.Choice(TS_FORMATS), metavar="FORMAT", show_default="as the input wrote it",
              help="Write every time column as epoch seconds, ISO 8601 or integer milliseconds.")
@click.option("--csv-safe", is_flag=True,
              help="Prefix ' to text fields starting with = + - @ TAB or CR (changes the data).")
@click.option("--summary-json", metavar="PATH", help="Write the run summary as JSON.")
@click.option("--no-progress", is_flag=True, help="No live progress line on stderr.")
@click.option("--resume", is_flag=True, help="Reuse the finished shards of an interrupted run (same inputs and options).")
@click.option("--tls-ca", metavar="FILE", help="CA certificate of a tls:// scheduler.")
@click.option("--tls-cert", metavar="FILE", help="Client certificate for a tls:// scheduler.")
@click.option("--tls-key", metavar="FILE", help="Client private key (if not in --tls-cert).")
# Enrichment (workflows/enrich/): columns added after the log's own.
@click.option("--enrich", callback=_enrichments, metavar="LIST",
              help="Comma-separated enrichments to add: community_id, geo, asn, intel.")
@click.option("--community-id-seed", type=click.IntRange(0, 65535), default=0, show_default=True, metavar="N",
              help="Community ID seed.")
@click.option("--community-id-hex", is_flag=True, help="Community ID as hex digits instead of base64.")
@click.option("--geoip-db", metavar="PATH", help="MaxMind City or Country database (--enrich geo).")
@click.option("--asn-db", metavar="PATH", help="MaxMind ASN database (--enrich asn).")
@click.option("--intel", metavar="PATH", help="Indicators in Zeek's Intel framework format (--enrich intel).")
def convert(inputs: tuple[str, ...], output: str, scheduler: str | None, workers: int | None, worker_kind: str,
            window: int, partition_size: int, work_dir: str | None, rejects: str | None, max_errors: int | None,
            columns: list[str] | None, log_type: str | None, schema: str | None, zeek_version: str | None,
            output_format: str | None, single_file: bool, dataset: bool,
            ts_format: str | None, csv_safe: bool, summary_json: str | None, no_progress: bool, resume: bool,
            tls_ca: str | None, tls_cert: str | None, tls_key: str | None, enrich: list[str] | None,
            community_id_seed: int, community_id_hex: bool, geoip_db: str | None, asn_db: str | None,
            intel: str | None) -> None:
    """Convert Zeek logs (NDJSON or TSV, plain or compressed) into one CSV file or a Parquet dataset."""
    options = ConvertOptions(
        inputs=list(inputs), output=output, scheduler=scheduler, workers=workers, worker_kind=worker_kind,
        window=window, partition_size=partition_size, work_dir=work_dir, rejects=rejects, max_errors=max_errors,
        columns=columns, log_type=log_type, schema=schema, zeek_version=zeek_version, output_format=output_format,
        single_file=single_file, dataset=dataset,
        ts_format=ts_format, csv_safe=csv_safe, summary_json=summary_json, resume=resume, tls_ca=tls_ca,
        tls_cert=tls_cert, tls_key=tls_key, enrich=enrich, community_id_seed=community_id_seed,
        community_id_hex=community_id_hex, geoip_db=geoip_db, asn_db=asn_db, intel=intel,
    )
    reporter = TerminalReporter(sys.stderr, live=False if no_progress else None)
    summary = run_convert(options, reporter)
    click.echo(summary.report())


@cli.command()
@click.option("-n", "--lines", type=click.IntRange(min=0), required=True, metavar="N", help="Number of lines to write.")
@click.option("-o", "--output", required=True, metavar="FILE", help="File to write.")
@click.option("--seed", type=int, default=0, show_default=True, metavar="S", help="Same seed, same bytes.")
@click.option("--bad-rate", type=click.FloatRange(0.0, 1.0), default=0.0, show_default=True, metavar="R",
              help="Fraction of lines replaced by malformed ones of several kinds.")
@click.option("--processes", type=click.IntRange(min=1), metavar="N", show_default="number of CPUs",
              help="Generator processes.")
@click.option("--format", "fmt", type=click.Choice(["ndjson", "tsv"]), default="ndjson", show_default=True,
              metavar="ndjson|tsv",
              help="Zeek's JSON writer (one object a line) or its default TSV log (the same events for a seed).")
def generate(lines: int, output: str, seed: int, bad_rate: float, processes: int | None, fmt: str) -> None:
    """Write a realistic synthetic Zeek conn.log as NDJSON or Zeek TSV."""
    from .generate import generate_capture

    try:
        size = generate_capture(output, lines, seed=seed, bad_rate=bad_rate, processes=processes, fmt=fmt)
    except OSError as error:
        raise UsageError(f"cannot write {output}: {error.strerror or error}") from None
    click.echo(f"wrote {lines:,} lines ({size / 1e6:,.1f} MB) to {output}")


def _list(ctx: click.Context, param: click.Parameter, value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


# Kept here rather than imported from workflows.bench: the benchmark code loads only for `zeekflow bench`.
BENCH_ENGINES = "read,zeekflow,zeekflow-1,duckdb,chdb,polars,pyarrow,orjson-lines"


@cli.command()
@click.option("--lines", type=click.IntRange(min=1), default=5_000_000, show_default=True, metavar="N",
              help="Lines of the generated captures (made once under --data-dir, then reused), and of the "
                   "repeated samples.")
@click.option("--reps", type=click.IntRange(min=1), default=3, show_default=True, metavar="R",
              help="Runs of each engine, alternating; the median is reported.")
@click.option("--engines", callback=_list, metavar="LIST", default=BENCH_ENGINES, show_default=True,
              help="Engines to run, among these and json-lines.")
@click.option("--generate", "generated", metavar="LIST", show_default="ndjson,tsv without --input, none with it",
              help="Generated inputs: ndjson, tsv (its Zeek TSV twin), both, or none.")
@click.option("--input", "inputs", multiple=True, metavar="FILE[,FILE...]",
              help="Benchmark this file (repeatable: one input each); files joined by commas make one input.")
@click.option("--repeat-to", type=click.IntRange(min=1), metavar="LINES",
              help="Repeat each --input's lines up to LINES lines, into a file under --data-dir.")
@click.option("--samples", metavar="DIR",
              help="Also benchmark the real Zeek JSON logs DIR/json/*.ndjson, repeated to --lines (or "
                   "--repeat-to); skipped with a note when there are none.")
@click.option("--data-dir", default="data/bench", show_default=True, metavar="DIR",
              help="Where captures and outputs go (outputs are deleted after each run).")
@click.option("--workers", type=click.IntRange(min=1), metavar="N", show_default="number of CPUs",
              help="zeekflow workers of the all-cores run.")
@click.option("--partition-size", metavar="SIZE", show_default="zeekflow's own", help="zeekflow --partition-size.")
@click.option("--curve", callback=_list, metavar="SIZES",
              help="Also run zeekflow at each of these partition sizes, e.g. 8MiB,32MiB,128MiB.")
@click.option("--memory", is_flag=True, help="Also convert 1M and 10M-line captures and compare peak memory.")
@click.option("--memory-lines", callback=_list, metavar="LIST", default="1000000,10000000", show_default=True,
              help="Capture sizes of --memory.")
@click.option("--json", "json_path", metavar="PATH", help="Write the report as JSON.")
def bench(lines: int, reps: int, engines: list[str], generated: str | None, inputs: tuple[str, ...],
          repeat_to: int | None, samples: str | None, data_dir: str, workers: int | None,
          partition_size: str | None, curve: list[str], memory: bool, memory_lines: list[str],
          json_path: str | None) -> None:
    """Measure zeekflow against DuckDB, chDB, Polars and plain Python, side by side."""
    from . import bench as benchmark

    for size in [partition_size, *curve]:
        if size:
            _size(None, None, size)  # type: ignore[arg-type]
    try:
        sizes = [int(n) for n in memory_lines] if memory else []
    except ValueError:
        raise click.BadParameter("give line counts such as 1000000,10000000", param_hint="--memory-lines") from None
    if generated is None:
        formats = [] if inputs else list(benchmark.GENERATED)
    else:
        formats = [f for f in _list(None, None, generated) if f != "none"]  # type: ignore[arg-type]
    groups = [[path for path in _list(None, None, value)] for value in inputs]  # type: ignore[arg-type]
    config = benchmark.BenchConfig(lines=lines, reps=reps, data_dir=data_dir, engines=engines, workers=workers,
                                   partition_size=partition_size, curve=curve, memory_lines=sizes,
                                   generate=formats, inputs=groups, repeat_to=repeat_to, samples=samples)
    report = benchmark.run_bench(config, progress=lambda message: click.echo(message, err=True))
    if json_path:
        with open(json_path, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)
            f.write("\n")
    click.echo(benchmark.format_report(report))


def _interrupted(stopped: BaseException) -> int:
    """Say which signal stopped the run; return 128 + its number, as a shell reports a process it killed."""
    signum = getattr(stopped, "signum", signal.SIGINT)
    try:
        click.echo(f"zeekflow: interrupted by {signal.Signals(signum).name}; the output was not written", err=True)
    except OSError:
        pass  # SIGHUP: the terminal may be gone
    return 128 + signum


def main(argv: list[str] | None = None) -> int:
    """Entry point: returns (and exits with) the exit code."""
    try:
        with _signals_interrupt():
            cli.main(args=argv, prog_name="zeekflow", standalone_mode=False)
    except click.exceptions.Exit as done:
        code = done.exit_code
    except click.ClickException as error:
        command = f" {error.ctx.command_path.split(' ', 1)[1]}" if getattr(error, "ctx", None) and " " in error.ctx.command_path else ""
        click.echo(f"zeekflow: error: {error.format_message()} (see 'zeekflow{command} --help')", err=True)
        code = EXIT_USAGE
    except click.exceptions.Abort as stopped:  # click turns KeyboardInterrupt (and so Interrupted) into Abort
        code = _interrupted(stopped.__cause__ or stopped)
    except ZeekflowError as error:
        click.echo(f"zeekflow: error: {display_name(str(error))}", err=True)
        code = error.exit_code
    except KeyboardInterrupt as stopped:
        code = _interrupted(stopped)
    except Exception as error:  # a bug or an environment failure: one line, the traceback on request
        if os.environ.get("ZEEKFLOW_DEBUG"):
            raise
        click.echo(f"zeekflow: error: {type(error).__name__}: {error} (set ZEEKFLOW_DEBUG=1 for a traceback)",
                   err=True)
        code = 1
    else:
        code = 0
    if code > 128:
        # Stopped by a signal, every cleanup done: exit now. A worker thread may still be inside a task (a read
        # that hangs) that the interpreter's exit would otherwise wait for.
        _exit_now(code)
    sys.exit(code)


def _exit_now(code: int) -> None:
    """Exit without the interpreter's teardown, once what was printed is out."""
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def entry() -> None:
    """The ``zeekflow`` command (and ``python -m workflows``): ``main``, then an exit without the interpreter's
    teardown, which after a long run spends most of a second freeing what Dask and Bokeh built (measured:
    0.7 s of a 5M-line run's 9.5 s). The outputs are complete by then: written, fsynced and renamed, the
    summary printed."""
    try:
        main()
    except SystemExit as done:
        code = done.code
    else:
        code = 0
    if code is None:
        code = 0
    elif not isinstance(code, int):
        print(code, file=sys.stderr)
        code = 1
    _exit_now(code)
