"""What each enrichment costs: lines/s of the same capture converted without and with each ``--enrich``.

    .venv/bin/python benchmarks/enrich.py [SAMPLES_DIR] [--lines N] [--format csv|parquet]

Generates an N-line conn.log (``zeekflow generate``, seed 1), then converts it in this process, partition by
partition with the shipped task code (one core, no Dask: the per-line cost without scheduling), once per
configuration, in one run. The databases are MaxMind's test databases in SAMPLES_DIR/enrich/maxmind (few of
the generated addresses have a record: a lookup that finds nothing walks the same tree); the intel file holds
a few hundred addresses and subnets, among them the generator's scanners.
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

from workflows import ConvertOptions, generate_capture, prepare
from workflows.task import convert_partition


def _intel(path: Path) -> None:
    with open(path, "w") as f:
        f.write("#fields\tindicator\tindicator_type\tmeta.source\n")
        f.write("203.0.113.0/24\tIntel::SUBNET\ttest-net-3\n")
        for i in range(1, 255):
            f.write(f"198.51.100.{i}\tIntel::ADDR\ttest-net-2\n10.{i}.0.0/16\tIntel::SUBNET\tinternal\n")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("samples", nargs="?", default=str(Path(__file__).resolve().parents[2] / "shared/samples"))
    parser.add_argument("--lines", type=int, default=1_000_000)
    parser.add_argument("--format", default="csv", choices=("csv", "parquet"))
    args = parser.parse_args()
    maxmind = Path(args.samples) / "enrich" / "maxmind"
    work = Path(tempfile.mkdtemp(prefix="zeekflow-enrich-"))
    try:
        capture = work / "conn.ndjson"
        generate_capture(str(capture), args.lines, seed=1, processes=1)
        intel = work / "intel.dat"
        _intel(intel)
        city, asn = str(maxmind / "GeoLite2-City-Test.mmdb"), str(maxmind / "GeoLite2-ASN-Test.mmdb")
        configs = {
            "none": {},
            "community_id": dict(enrich=["community_id"]),
            "geo (City db)": dict(enrich=["geo"], geoip_db=city),
            "asn": dict(enrich=["asn"], asn_db=asn),
            "intel": dict(enrich=["intel"], intel=str(intel)),
            "all four": dict(enrich=["community_id", "geo", "asn", "intel"], geoip_db=city, asn_db=asn,
                             intel=str(intel)),
        }
        rates = {}
        for name, options in configs.items():
            out = work / f"out.{args.format}"
            job = prepare(ConvertOptions(inputs=[str(capture)], output=str(out), partition_size="16MiB",
                                         output_format=args.format, **options))
            os.makedirs(job.spec.work_dir, exist_ok=True)
            started = time.perf_counter()
            lines = sum(convert_partition(partition, job.spec).lines for partition in job.partitions)
            rates[name] = lines / (time.perf_counter() - started)
            shutil.rmtree(job.spec.work_dir)
        base = rates["none"]
        for name, rate in rates.items():
            cost = (1 / rate - 1 / base) * 1e6
            print(f"{name:14s} {rate:>10,.0f} lines/s  ({rate / base:.2f}x none, "
                  f"{'+' if cost >= 0 else ''}{cost:.2f} us/line)")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
