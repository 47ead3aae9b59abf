"""An independent, deliberately plain reading of Zeek TSV logs (no code shared with the package).

Lines are split with ``str.split`` on the header's separator, escapes are undone with ``codecs.escape_decode``,
and each field becomes the CSV text DESIGN.md's conventions give for the same value in JSON. Used to check
zeekflow's TSV path field by field.
"""

from __future__ import annotations

import codecs
import re

INTEGER_TYPES = {"count", "port", "int"}
FLOAT_TYPES = {"interval", "double", "time"}
_CONTROL = re.compile("[\x00-\x07\x0b\x0e-\x1f]")


def _bytes_to_text(raw: bytes) -> str:
    text = raw.decode("utf-8", "backslashreplace")
    return _CONTROL.sub(lambda m: "\\x%02x" % ord(m.group()), text)


def _scalar(zeek_type: str, raw: bytes, unset: bytes) -> str:
    if raw == unset:
        return ""
    if zeek_type in INTEGER_TYPES:
        return str(int(raw))
    if zeek_type in FLOAT_TYPES:
        return repr(float(raw))
    if zeek_type == "bool":
        return {b"T": "true", b"F": "false"}[raw]
    return _bytes_to_text(codecs.escape_decode(raw)[0])


def read_tsv(data: bytes) -> tuple[list[dict[str, str]], list[bytes]]:
    """All data rows of a TSV log as {field: CSV text} (unset fields absent), and the lines that do not parse."""
    separator = b"\t"
    meta: dict[bytes, bytes] = {}
    fields: list[str] = []
    types: list[str] = []
    rows: list[dict[str, str]] = []
    bad: list[bytes] = []
    for line in data.split(b"\n"):
        if not line:
            continue
        if line.startswith(b"#separator "):
            separator = codecs.escape_decode(line.split(b" ", 1)[1])[0]
            continue
        if line.startswith(b"#"):
            name, _, value = line.partition(separator)
            meta[name] = value
            if name == b"#fields":
                fields = value.decode().split(separator.decode())
            elif name == b"#types":
                types = value.decode().split(separator.decode())
            continue
        unset, empty = meta[b"#unset_field"], meta[b"#empty_field"]
        set_separator = codecs.escape_decode(meta[b"#set_separator"])[0]
        try:
            rows.append(_row(line, separator, fields, types, unset, empty, set_separator))
        except (ValueError, KeyError):
            bad.append(line)
    return rows, bad


def _row(line: bytes, separator: bytes, fields: list[str], types: list[str], unset: bytes, empty: bytes,
         set_separator: bytes) -> dict[str, str]:
    row: dict[str, str] = {}
    for name, zeek_type, raw in zip(fields, types, line.split(separator), strict=True):
        if raw == unset:
            continue
        if zeek_type.endswith("]"):
            inner = zeek_type[zeek_type.index("[") + 1:-1]
            elements = [] if raw == empty else raw.split(set_separator)
            row[name] = ",".join(_scalar(inner, e, unset) for e in elements)
        elif raw == empty:
            row[name] = ""
        else:
            row[name] = _scalar(zeek_type, raw, unset)
    return row
