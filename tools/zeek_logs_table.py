"""Regenerate ``workflows/zeek_logs.json``, the shipped log schemas, from Zeek's own scripts at its release tags.

    git clone --bare https://github.com/zeek/zeek zeek.git
    python tools/zeek_logs_table.py zeek.git > workflows/zeek_logs.json

For every release tag ``vX.Y.0`` from 3.0 on, every ``scripts/**/*.zeek`` is read: each ``Log::create_stream``
gives a log's ``$path`` and ``$columns`` record; the record's ``&log`` fields (a record field flattened with dots,
``id.orig_h``), then the ``redef record ... += {...}`` of other scripts in the order Zeek loads them, are its
columns. Fields of scripts Zeek loads by default (``base/init-*.zeek`` and what they load; for a log a policy
script creates, that script and what it loads) are default columns; the others, and fields a base script
removes from the stream's default filter, are optional. The versions are then merged into one table in which
every column carries the versions that write it; the development branch (``master``) adds its new columns as
optional, ``"since": "dev"``. A field whose type no script names (a type made by Zeek's C++ code, such as
``Tunnel::Type``) is taken as an enum, and said on stderr.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import defaultdict

BASE_TYPES = {"addr", "port", "count", "int", "double", "interval", "time", "bool", "string", "subnet", "pattern",
              "enum"}
DEFAULT_ROOTS = ("base/init-bare.zeek", "base/init-frameworks-and-bifs.zeek", "base/init-default.zeek")
_NAME = r"[A-Za-z_][A-Za-z0-9_:]*"
_STATEMENTS = re.compile(
    rf"\bmodule\s+(?P<module>{_NAME})\s*;"
    rf"|\btype\s+(?P<record>{_NAME})\s*:\s*record\s*\{{"
    rf"|\bredef\s+record\s+(?P<redef>{_NAME})\s*\+=\s*\{{"
    rf"|\btype\s+(?P<enum>{_NAME})\s*:\s*enum\b"
    rf"|\btype\s+(?P<alias>{_NAME})\s*:\s*(?P<target>[^;{{]+);"
    rf"|\bconst\s+(?P<const>{_NAME})\s*(?::\s*string\s*)?=\s*\"(?P<value>[^\"]*)\""
    r"|\bLog::create_stream\s*(?P<stream>\()"
)


def _git(git_dir: str, *args: str, data: bytes | None = None) -> bytes:
    return subprocess.run(["git", "--git-dir", git_dir, *args], input=data, capture_output=True,
                          check=True).stdout


def read_scripts(git_dir: str, ref: str) -> dict[str, str]:
    """Every ``.zeek`` file under ``scripts/`` at ``ref``, by its path below ``scripts/``."""
    entries = []
    for line in _git(git_dir, "ls-tree", "-r", ref, "scripts").decode().splitlines():
        meta, path = line.split("\t", 1)
        if path.endswith(".zeek"):
            entries.append((meta.split()[2], path[len("scripts/"):]))
    out = _git(git_dir, "cat-file", "--batch", data="".join(f"{sha}\n" for sha, _ in entries).encode())
    files, pos = {}, 0
    for _, path in entries:
        header_end = out.index(b"\n", pos)
        size = int(out[pos:header_end].split()[2])
        files[path] = out[header_end + 1:header_end + 1 + size].decode("utf-8", "replace")
        pos = header_end + 1 + size + 1
    return files


def _skip_string(text: str, i: int) -> int:
    """The index just past the string literal that starts at ``text[i]``."""
    j = i + 1
    while j < len(text) and text[j] != '"':
        j += 2 if text[j] == "\\" else 1
    return j + 1


def strip_comments(text: str) -> str:
    out, i = [], 0
    while i < len(text):
        if text[i] == '"':
            end = _skip_string(text, i)
            out.append(text[i:end])
            i = end
        elif text[i] == "#":
            end = text.find("\n", i)
            i = len(text) if end < 0 else end
        else:
            out.append(text[i])
            i += 1
    return "".join(out)


def split_top(text: str, separator: str = ";") -> list[str]:
    """``text`` cut at ``separator`` outside brackets and strings."""
    parts, depth, start, i = [], 0, 0, 0
    while i < len(text):
        c = text[i]
        if c == '"':
            i = _skip_string(text, i)
            continue
        depth += c in "([{"
        depth -= c in ")]}"
        if c == separator and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()]


def _closing(text: str, start: int) -> int:
    """The index just past the bracket that closes the one at ``text[start]``."""
    depth, i = 0, start
    while i < len(text):
        if text[i] == '"':
            i = _skip_string(text, i)
            continue
        depth += text[i] in "([{"
        depth -= text[i] in ")]}"
        if depth == 0:
            return i + 1
        i += 1
    raise ValueError("unbalanced brackets")


def parse_fields(body: str) -> list[tuple[str, str, bool]]:
    """``name: type &attrs;`` declarations as (name, type, has &log)."""
    fields = []
    for part in split_top(body):
        match = re.match(r"\s*([A-Za-z_]\w*)\s*:\s*(.*)$", part, re.S)
        if not match:
            print(f"note: not a field: {part.strip()[:60]!r}", file=sys.stderr)
            continue
        name, rest = match.groups()
        type_text, _, attrs = rest.partition("&")
        fields.append((name, " ".join(type_text.split()), bool(re.search(r"&log\b", "&" + attrs))))
    return fields


def qualify(module: str | None, name: str) -> str:
    return name if "::" in name or module in (None, "GLOBAL") else f"{module}::{name}"


def module_of(text: str) -> str | None:
    match = re.search(rf"^\s*module\s+({_NAME})\s*;", text, re.M)
    return match.group(1) if match else None


class Scripts:
    """The declarations of one version's scripts that decide its logs' columns."""

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files
        self.records: dict[str, tuple[str, list, bool, str | None]] = {}  # name -> (file, fields, &log, module)
        self.redefs: dict[tuple[str | None, str], list] = defaultdict(list)
        self.enums: set[str] = set()
        self.aliases: dict[str, tuple[str, str | None]] = {}
        self.consts: dict[str, str] = {}
        self.streams: list[tuple[str, str | None, str]] = []  # (file, module, the call's arguments)
        for path, text in files.items():
            self._scan(path, strip_comments(text))
        self.load_order = load_order(files, DEFAULT_ROOTS, everything=True)

    def _scan(self, path: str, text: str) -> None:
        module = None
        for m in _STATEMENTS.finditer(text):
            if m["module"]:
                module = m["module"]
            elif m["record"] or m["redef"]:
                end = _closing(text, m.end() - 1)
                fields = parse_fields(text[m.end():end - 1])
                whole_record_logged = bool(re.match(r"\s*&log\b", text[end:end + 20]))
                if m["record"]:
                    self.records[qualify(module, m["record"])] = (path, fields, whole_record_logged, module)
                else:
                    self.redefs[(module, m["redef"])].append((path, fields, whole_record_logged))
            elif m["enum"]:
                self.enums.add(qualify(module, m["enum"]))
            elif m["alias"]:
                self.aliases[qualify(module, m["alias"])] = (" ".join(m["target"].split()), module)
            elif m["const"]:
                self.consts[qualify(module, m["const"])] = m["value"]
            else:
                end = _closing(text, m.start("stream"))
                self.streams.append((path, module, text[m.start("stream") + 1:end - 1]))

    def record(self, module: str | None, name: str) -> str | None:
        return next((c for c in (qualify(module, name), name) if c in self.records), None)

    def type_of(self, text: str, module: str | None):
        """("scalar", name) | ("set"|"vector", element) | ("record", name) | ("unloggable", text)."""
        text = text.strip()
        container = re.fullmatch(r"vector\s+of\s+(.+)", text) or re.fullmatch(r"set\s*\[([^,]+)\]", text)
        if container:
            return ("vector" if text.startswith("vector") else "set", self.type_of(container.group(1), module))
        if re.match(r"(table|set|function|opaque|any|file)\b", text):
            return ("unloggable", text)
        if text in BASE_TYPES:
            return ("scalar", text)
        record = self.record(module, text)
        if record:
            return ("record", record)
        for candidate in (qualify(module, text), text):
            if candidate in self.enums:
                return ("scalar", "enum")
            if candidate in self.aliases:
                target, alias_module = self.aliases[candidate]
                return self.type_of(target, alias_module)
        print(f"note: no script declares the type {text}; taken as an enum", file=sys.stderr)
        return ("scalar", "enum")

    def columns(self, record: str, defaults: set[str], prefix: str = "") -> list[tuple[str, str, bool, str]]:
        """(name, log type, default?, declaring script) of a record's logged fields, nested records flattened."""
        path, fields, whole, module = self.records[record]
        position = {p: i for i, p in enumerate(self.load_order)}
        redefs = sorted((r for (m, name), items in self.redefs.items() if (self.record(m, name) or name) == record
                         for r in items), key=lambda r: position.get(r[0], len(position)))
        out = []
        for script, script_fields, logged in [(path, fields, whole), *redefs]:
            script_module = module if script == path else (module_of(self.files[script]) or module)
            for name, type_text, field_logged in script_fields:
                if not (field_logged or logged):
                    continue
                kind = self.type_of(type_text, script_module)
                if kind[0] == "unloggable":
                    print(f"note: {record}${name} has a type no log holds: {type_text}", file=sys.stderr)
                elif kind[0] == "record":
                    out += [(n, t, d and script in defaults, s)
                            for n, t, d, s in self.columns(kind[1], defaults, f"{prefix}{name}.")]
                else:
                    out.append((prefix + name, _render(kind), script in defaults, script))
        return out

    def filter_excludes(self, module: str | None, stream_id: str) -> set[str]:
        """Fields a base script takes out of a stream's default filter (ssl's subject and issuer since 4.1)."""
        names = set()
        for path, text in self.files.items():
            if not path.startswith("base/"):
                continue
            for m in re.finditer(rf"Log::get_filter\(\s*({_NAME})\s*,", text):
                if qualify(module_of(text), m.group(1)) == qualify(module, stream_id):
                    names.update(re.findall(r"add\s+\w+\$exclude\[\"(\w+)\"\]", text))
        return names

    def logs(self) -> dict[str, list[tuple[str, str, bool, str]]]:
        """Every log's columns, by its ``$path``."""
        defaults = set(load_order(self.files, DEFAULT_ROOTS))
        logs = {}
        for path, module, arguments in self.streams:
            if arguments.lstrip().startswith("id:"):
                continue  # the declaration of Log::create_stream itself
            stream_id = split_top(arguments, ",")[0].strip()
            columns = re.search(rf"\$columns\s*=\s*({_NAME})", arguments)
            log_path = re.search(rf"\$path\s*=\s*(\"[^\"]*\"|{_NAME})", arguments)
            if not columns:
                print(f"note: {path}: a stream whose columns are built at run time: {arguments[:60]}",
                      file=sys.stderr)
                continue
            if log_path is None:
                name = stream_id[:-len("::LOG")].lower()  # Zeek's default path: NTP::LOG writes ntp.log
            elif log_path.group(1).startswith('"'):
                name = log_path.group(1).strip('"')
            else:
                name = self.consts.get(qualify(module, log_path.group(1))) or self.consts[log_path.group(1)]
            record = self.record(module, columns.group(1))
            excluded = self.filter_excludes(module, stream_id)
            own = defaults | set(load_order(self.files, [path]))
            logs[name] = {"source": path, "columns": [
                (n, t, False, f"{s} (excluded by the default filter)") if n in excluded else (n, t, d, s)
                for n, t, d, s in self.columns(record, own)]}
        return logs


def _render(kind) -> str:
    return kind[1] if kind[0] == "scalar" else f"{kind[0]}[{_render(kind[1])}]"


def load_order(files: dict[str, str], roots, everything: bool = False) -> list[str]:
    """The scripts ``roots`` load, each after the scripts it loads (``everything``: then every other one)."""
    order, seen = [], set()

    def resolve(current: str, target: str) -> str | None:
        folder = current.rsplit("/", 1)[0]
        bases = [f"{folder}/{target}"] + ([] if target.startswith(".") else [target, f"policy/{target}"])
        for base in bases:
            parts: list[str] = []
            for part in base.split("/"):
                if part == "..":
                    parts = parts[:-1]
                elif part not in (".", ""):
                    parts.append(part)
            base = "/".join(parts)
            for candidate in (base, base + ".zeek", base + "/__load__.zeek"):
                if candidate.endswith(".zeek") and candidate in files:
                    return candidate
        return None

    def visit(path: str) -> None:
        if path in seen:
            return
        seen.add(path)
        for m in re.finditer(r"^\s*@load\s+(\S+)", files[path], re.M):
            target = resolve(path, m.group(1))
            if target:
                visit(target)
        order.append(path)

    for root in roots:
        if root in files:
            visit(root)
    for path in sorted(files) if everything else ():
        visit(path)
    return order


def release_tags(git_dir: str) -> list[tuple[str, str]]:
    """(version, tag) of the ``vX.Y.0`` tags from 3.0 on, oldest first."""
    tags = []
    for tag in _git(git_dir, "tag").decode().split():
        match = re.fullmatch(r"v(\d+)\.(\d+)\.0", tag)
        if match and int(match.group(1)) >= 3:
            tags.append(((int(match.group(1)), int(match.group(2))), tag))
    return [(f"{major}.{minor}", tag) for (major, minor), tag in sorted(tags)]


def _runs(flags: list[bool], versions: list[str]) -> list[tuple[str | None, str | None]]:
    """The versions' contiguous runs where ``flags`` hold, as (since, until); None for an open end."""
    runs, start = [], None
    for i, flag in enumerate([*flags, False]):
        if flag and start is None:
            start = i
        elif not flag and start is not None:
            runs.append((versions[start] if start else None, versions[i - 1] if i < len(versions) else None))
            start = None
    return runs


def merge_order(sequences: list[list]) -> list:
    """One sequence in which each given sequence keeps its order; ValueError when none exists."""
    merged: list = []
    for sequence in sequences:
        previous = -1
        for key in sequence:
            if key in merged:
                if merged.index(key) < previous:
                    raise ValueError(f"{key} moved between versions")
                previous = merged.index(key)
            else:
                previous += 1
                merged.insert(previous, key)
    return merged


def _entry(name, zeek_type, since, until, script=None) -> dict:
    entry = {"name": name, "type": zeek_type}
    entry.update((k, v) for k, v in (("since", since), ("until", until), ("script", script)) if v)
    return entry


def merge(by_version: dict[str, dict], dev: dict) -> dict:
    """The table: per log its versions and every column's, columns in an order every version keeps."""
    versions = list(by_version)
    logs = {}
    for name in sorted({log for found in by_version.values() for log in found}):
        present = [name in by_version[v] for v in versions]
        (since, until), = _runs(present, versions)  # a log that stopped and came back would fail here
        of = {v: by_version[v][name]["columns"] for v in versions if name in by_version[v]}
        spans = {}
        for default in (True, False):
            keys = merge_order([[(n, t) for n, t, d, _ in cols if d == default] for cols in of.values()])
            scripts = {(n, t): s for cols in of.values() for n, t, d, s in cols if d == default}
            spans[default] = [
                _entry(n, t, a, b, None if default else scripts[(n, t)])
                for n, t in keys
                for a, b in _runs([v in of and any((c[0], c[1], c[2]) == (n, t, default) for c in of[v])
                                   for v in versions], versions)]
        known = {e["name"] for e in spans[True] + spans[False]}
        spans[False] += [_entry(n, t, "dev", None, f"development branch after {versions[-1]}: {s}")
                         for n, t, _, s in dev.get(name, {}).get("columns", []) if n not in known]
        for entry in spans[True] + spans[False]:  # a column's range is the log's unless it says otherwise
            if since and entry.get("since") == since:
                del entry["since"]
            if until and entry.get("until") == until:
                del entry["until"]
        sources = sorted({by_version[v][name]["source"] for v in of},
                         key=lambda s: -sum(by_version[v][name]["source"] == s for v in of))
        logs[name] = {"source": " ".join(sources), **({"since": since} if since else {}),
                      **({"until": until} if until else {}), "columns": spans[True], "optional": spans[False]}
    return {"versions": versions, "logs": logs}


def dump(table: dict) -> str:
    """JSON with one column a line, so a change of Zeek's reads as a one-line diff."""
    lines = ["{", f'  "versions": {json.dumps(table["versions"])},', '  "logs": {']
    for i, (name, log) in enumerate(table["logs"].items()):
        lines.append(f"    {json.dumps(name)}: {{")
        lines += [f"      {json.dumps(k)}: {json.dumps(v)}," for k, v in log.items() if k not in ("columns", "optional")]
        for part in ("columns", "optional"):
            comma = "," if part == "columns" else ""
            if not log[part]:
                lines.append(f'      "{part}": []{comma}')
                continue
            lines.append(f'      "{part}": [')
            lines += [f"        {json.dumps(e)}{',' if j < len(log[part]) - 1 else ''}" for j, e in enumerate(log[part])]
            lines.append(f"      ]{comma}")
        lines.append("    }" + ("," if i < len(table["logs"]) - 1 else ""))
    return "\n".join([*lines, "  }", "}"]) + "\n"


def baseline_headers(git_dir: str, ref: str):
    """(path, log, fields, types) of every TSV log among Zeek's btest baselines at ``ref``: what Zeek wrote."""
    entries = []
    for line in _git(git_dir, "ls-tree", "-r", ref, "testing/btest/Baseline").decode().splitlines():
        meta, path = line.split("\t", 1)
        if path.endswith(".log"):
            entries.append((meta.split()[2], path))
    out = _git(git_dir, "cat-file", "--batch", data="".join(f"{sha}\n" for sha, _ in entries).encode())
    pos = 0
    for _, path in entries:
        header_end = out.index(b"\n", pos)
        if out[pos:header_end].endswith(b"missing"):  # a blob the clone does not hold
            pos = header_end + 1
            continue
        size = int(out[pos:header_end].split()[2])
        body, pos = out[header_end + 1:header_end + 1 + size], header_end + 1 + size + 1
        head = {}
        for line in body.split(b"\n")[:12]:
            key, _, value = line.decode("utf-8", "replace").partition("\t")
            head[key] = value.split("\t")
        if "#path" in head and "#fields" in head:
            yield path, head["#path"][0], head["#fields"], head.get("#types", [])


def main(git_dir: str, dev_ref: str = "master") -> str:
    by_version = {version: Scripts(read_scripts(git_dir, tag)).logs() for version, tag in release_tags(git_dir)}
    dev = Scripts(read_scripts(git_dir, dev_ref)).logs() if dev_ref else {}
    return dump(merge(by_version, dev))


if __name__ == "__main__":
    sys.stdout.write(main(*sys.argv[1:]))
