"""Side-by-side throughput of the input and output formats on one machine, in one run (ratios, not absolutes).

    .venv/bin/python benchmarks/formats.py [SAMPLES_DIR] [--copies N] [--workers N]

Builds an NDJSON and a TSV dns.log holding the same events (the brimdata twins in the samples folder, repeated
N times; the TSV keeps one header block per copy), plus gzip copies of both, then converts each on a fresh
LocalCluster, alternating the order over two rounds.
"""

from __future__ import annotations

import argparse
import gzip
import shutil
import tempfile
from pathlib import Path

from workflows import ConvertOptions, convert


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("samples", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared/samples"))
    parser.add_argument("--copies", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="zeekflow-bench-"))
    try:
        inputs = {}
        for kind, name in (("json", "zed_dns.ndjson.gz"), ("tsv", "zed_dns.tsv.log.gz")):
            data = gzip.decompress((Path(args.samples) / "other" / name).read_bytes()) * args.copies
            plain = work / f"dns.{kind}.log"
            plain.write_bytes(data)
            packed = work / f"dns.{kind}.log.gz"
            packed.write_bytes(gzip.compress(data, compresslevel=6))
            inputs[f"{kind} plain"] = (plain, "csv")
            inputs[f"{kind} gzip (1 partition)"] = (packed, "csv")
        inputs["tsv plain -> parquet"] = (work / "dns.tsv.log", "parquet")
        results: dict[str, list[float]] = {name: [] for name in inputs}
        for round_number in range(2):
            order = list(inputs) if round_number == 0 else list(reversed(inputs))
            for name in order:
                path, output_format = inputs[name]
                out = work / f"out.{output_format}"
                summary = convert(ConvertOptions(inputs=[str(path)], output=str(out), workers=args.workers,
                                                 partition_size="16MiB", output_format=output_format))
                results[name].append(summary.lines / summary.duration_s)
                shutil.rmtree(out, ignore_errors=True) if out.is_dir() else out.unlink()
        base = max(results["json plain"])
        for name, rates in results.items():
            print(f"{name:24s} {max(rates):>10,.0f} lines/s  ({max(rates) / base:.2f}x json plain)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
