"""File names that are not valid UTF-8 (bytes Python holds as lone surrogates): kept as escaped text."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import orjson
import pytest

from .procs import cli

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX file names are bytes")


def _name(folder: Path, raw: bytes) -> str:
    return os.fsdecode(os.path.join(os.fsencode(folder), raw))


@pytest.mark.cluster
def test_a_bad_line_in_an_input_whose_name_is_not_utf8(tmp_path: Path) -> None:
    source = _name(tmp_path, b"conn-\xff.log")
    with open(source, "wb") as f:
        f.write(b'{"ts":1.5,"uid":"C1"}\nnot json\n')
    output = _name(tmp_path, b"out-\xfe.csv")
    code, out, err = cli("convert", source, "-o", output, "--workers", "1", "--no-progress",
                         "--summary-json", str(tmp_path / "s.json"))
    assert code == 0, err
    shown = os.fsencode(tmp_path).decode() + "/conn-\\xff.log"
    record = orjson.loads(Path(output + ".rejects.ndjson").read_bytes())  # strict UTF-8 JSON
    assert record["input"] == shown and record["offset"] == 22 and record["line"] == "not json"
    summary = orjson.loads((tmp_path / "s.json").read_bytes())
    assert summary["inputs"] == [shown] and summary["output"].endswith("/out-\\xfe.csv")
    assert "out-\\xfe.csv" in out

    code, _, err = cli("convert", _name(tmp_path, b"missing-\xff.log"), "-o", str(tmp_path / "o.csv"))
    assert code == 2 and "input " in err and "/missing-\\xff.log does not exist" in err
