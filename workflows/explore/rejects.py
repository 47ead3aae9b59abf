"""The rejects file of a run, summarised: why lines were rejected, how many, and where the first one is."""

from __future__ import annotations

import itertools
import re

import dask.bag as db
import fsspec
import orjson
import pandas as pd

_GENERIC_REASONS = ("invalid JSON", "invalid UTF-8", "not a JSON object")
# Type errors on time columns quote the offending value; the kind of error is what matters in a summary.
_QUOTED_VALUE = re.compile(r""": (?:'.*'|".*")$""")
SUMMARY_COLUMNS = ["reason", "lines", "first_input", "first_offset"]


def reason_kind(reason: str) -> str:
    """The reason without the details that differ from line to line (parser position, byte, value)."""
    for generic in _GENERIC_REASONS:
        if reason.startswith(generic):
            return generic
    return _QUOTED_VALUE.sub("", reason)


def _key(record: dict) -> tuple[str, tuple[str, int]]:
    return reason_kind(record["reason"]), (record["input"], record["offset"])


def _count_first(acc: tuple[int, tuple | None], where: tuple) -> tuple[int, tuple]:
    count, first = acc
    return count + 1, where if first is None or where < first else first


def _merge(a: tuple[int, tuple | None], b: tuple[int, tuple | None]) -> tuple[int, tuple | None]:
    firsts = [w for w in (a[1], b[1]) if w is not None]
    return a[0] + b[0], min(firsts) if firsts else None


def rejects_summary(path: str, blocksize: str | int = "64MiB") -> pd.DataFrame:
    """One row per kind of reason: how many lines, and the input and byte offset of the first such line
    (``tail -c +OFFSET+1 INPUT | head -1`` shows it). Most frequent first; empty when nothing was rejected."""
    fs, fs_path = fsspec.core.url_to_fs(path)
    if fs.size(fs_path) == 0:  # dask.bag finds "no files" in an empty file
        return pd.DataFrame(columns=SUMMARY_COLUMNS).astype({"lines": "int64", "first_offset": "int64"})
    records = db.read_text(path, blocksize=blocksize).filter(str.strip).map(orjson.loads).map(_key)
    folded = records.foldby(
        lambda kv: kv[0], lambda acc, kv: _count_first(acc, kv[1]), (0, None), _merge, (0, None),
    ).compute()
    rows = [(kind, count, first[0], first[1]) for kind, (count, first) in folded]
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS).astype({"lines": "int64", "first_offset": "int64"})
    return table.sort_values(["lines", "reason"], ascending=[False, True], kind="stable").reset_index(drop=True)


def rejects_examples(path: str, n: int = 5) -> pd.DataFrame:
    """The first ``n`` reject records as they are in the file (only those lines are read)."""
    with fsspec.open(path, "rb") as f:
        records = [orjson.loads(line) for line in itertools.islice(filter(bytes.strip, f), n)]
    return pd.DataFrame(records, columns=["input", "offset", "reason", "line"])
