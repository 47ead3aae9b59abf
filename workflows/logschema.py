"""Log schemas from a Zeek logschema export (``--schema FILE``): the exact columns of every log a deployment writes.

Zeek's logschema package (github.com/zeek/logschema) exports, per log, its fields in the order Zeek writes them,
records already flattened (``id.orig_h``), in a JSON format (a list of ``{"name", "fields": [{"name", "type",
"is_optional"}]}``), a CSV format (one row per field: ``log,field,type,...``) or as one JSON Schema per log
(``properties`` in Zeek's order, each with its Zeek type under ``x-zeek``, the log named by the ``title``,
"Schema for Zeek conn.log"). Its type names are Zeek's script
spelling (``enum transport_proto``, ``vector of count``); they are mapped to the log format's (``enum``,
``vector[count]``) here. A field of a type no output can hold (a function, a table) is left out and named.
"""

from __future__ import annotations

import csv
import io
import json
import re

from .errors import UsageError
from .schema import Column, LogSchema

_VECTOR = re.compile(r"vector of (.+)")
_CONTAINER = re.compile(r"(set|vector)\[(.+)\]")


def zeek_log_type_name(script_type: str) -> str:
    """``enum transport_proto`` → ``enum``, ``vector of count`` → ``vector[count]``, ``set[count]`` as is."""
    script_type = script_type.strip()
    vector = _VECTOR.fullmatch(script_type)
    if vector:
        return f"vector[{zeek_log_type_name(vector.group(1))}]"
    container = _CONTAINER.fullmatch(script_type)
    if container:
        return f"{container.group(1)}[{zeek_log_type_name(container.group(2))}]"
    if script_type.startswith("enum"):
        return "enum"
    return script_type


def _fields_from_json(text: str) -> dict[str, list[tuple[str, str]]]:
    logs: dict[str, list[tuple[str, str]]] = {}
    for log in json.loads(text):
        logs[log["name"]] = [(f["name"], f["type"]) for f in log["fields"]]
    return logs


_JSON_SCHEMA_TITLE = re.compile(r"Zeek (\S+)\.log\b")


def _fields_from_json_schema(schema: dict) -> dict[str, list[tuple[str, str]]]:
    """One log's fields from its JSON Schema: the Zeek types, not the JSON ones (a count and an int are both
    JSON integers; a time is a number or a string)."""
    named = _JSON_SCHEMA_TITLE.search(schema.get("title", "")) or _JSON_SCHEMA_TITLE.search(
        schema.get("description", ""))
    if named is None:
        raise ValueError('a JSON Schema export names its log in its title ("Schema for Zeek conn.log")')
    fields = []
    for name, spec in schema["properties"].items():
        zeek = spec.get("x-zeek", {}).get("type")
        if not zeek:
            raise ValueError(f"property {name} has no x-zeek type")
        fields.append((name, zeek))
    return {named.group(1): fields}


def _fields_from_csv(text: str) -> dict[str, list[tuple[str, str]]]:
    logs: dict[str, list[tuple[str, str]]] = {}
    rows = csv.DictReader(io.StringIO(text))
    if not {"log", "field", "type"} <= set(rows.fieldnames or ()):
        raise ValueError("a CSV export needs the columns log, field and type")
    for row in rows:
        logs.setdefault(row["log"], []).append((row["field"], row["type"]))
    return logs


def read_logschema(path: str) -> dict[str, LogSchema]:
    """The log schemas of a logschema export (JSON, CSV or JSON Schema format), by log name. Raises UsageError."""
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if text.lstrip().startswith("["):
            fields = _fields_from_json(text)
        elif text.lstrip().startswith("{") and isinstance(json.loads(text).get("properties"), dict):
            fields = _fields_from_json_schema(json.loads(text))
        else:
            fields = _fields_from_csv(text)
    except OSError as error:
        raise UsageError(f"cannot read --schema {path}: {error.strerror or error}") from None
    except (ValueError, KeyError, TypeError) as error:
        raise UsageError(f"--schema {path} is not a Zeek logschema export in its JSON, CSV or JSON Schema "
                         f"format ({error})") from None
    schemas = {}
    for name, log_fields in fields.items():
        columns = []
        for field_name, script_type in log_fields:
            column = Column(field_name, zeek_log_type_name(script_type))
            try:
                column.kind
            except ValueError:
                continue  # not a log type a CSV or Parquet column can hold
            columns.append(column)
        schemas[name] = LogSchema(name=name, columns=tuple(columns), source=f"the logschema export {path}")
    if not schemas:
        raise UsageError(f"--schema {path} names no log")
    return schemas
