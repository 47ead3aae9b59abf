"""tools/zeek_logs_table.py reads a log's columns per Zeek version from Zeek's scripts at its release tags."""

from __future__ import annotations

import importlib.util
import json
import subprocess

from workflows.schema import HISTORIES, VERSIONS

from .conftest import REPO

BARE = """module GLOBAL;
type conn_id: record {
    orig_h: addr &log;  ##< a comment holding &log and a "quote
    orig_p: port &log;
    resp_h: addr &log;
    resp_p: port &log;
    proto: count &default=65535;
};
type geo: record { city: string &optional; } &log;
"""
MAIN_3_0 = """@load base/frameworks/notice
module Foo;
export {
    redef enum Log::ID += { LOG };
    type Info: record {
        ts: time &log;
        id: conn_id &log;
        names: vector of string &log &optional;
        secret: string &default="x; y";
        where: geo &log &optional;
        old: count &log &optional;
    };
}
event zeek_init() { Log::create_stream(Foo::LOG, [$columns=Info, $path="foo"]); }
"""
MAIN_3_1 = MAIN_3_0.replace("        old: count &log &optional;\n", "").replace(
    "        id: conn_id &log;\n", "        id: conn_id &log;\n        added: interval &log &optional;\n").replace(
    '[$columns=Info, $path="foo"]', 'Log::Stream($columns=Info,\n        $path="foo", $policy=log_policy)')
POLICY = "@load base/protocols/foo\nredef record Foo::Info += { extra: set[addr] &log &optional; };\n"


def _tool():
    spec = importlib.util.spec_from_file_location("zeek_logs_table", REPO / "tools" / "zeek_logs_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _commit(repo, files: dict[str, str], tag: str | None = None) -> None:
    for path, text in files.items():
        target = repo / "scripts" / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", tag or "dev"], check=True)
    if tag:
        subprocess.run([*git, "tag", tag], check=True)


def test_the_tool_reads_each_release_tags_columns_and_merges_them(tmp_path):
    repo = tmp_path / "zeek"
    subprocess.run(["git", "init", "-q", "-b", "master", str(repo)], check=True)
    _commit(repo, {"base/init-bare.zeek": BARE, "base/init-default.zeek": "@load base/protocols/foo\n",
                   "base/frameworks/notice/__load__.zeek": "", "base/protocols/foo/__load__.zeek": "@load ./main\n",
                   "base/protocols/foo/main.zeek": MAIN_3_0, "policy/protocols/foo/extra.zeek": POLICY}, "v3.0.0")
    _commit(repo, {"base/protocols/foo/main.zeek": MAIN_3_1}, "v3.1.0")
    _commit(repo, {"base/protocols/foo/main.zeek": MAIN_3_1.replace(
        "        ts: time &log;\n", "        ts: time &log;\n        newer: bool &log &optional;\n")})
    table = json.loads(_tool().main(str(repo / ".git"), "master"))
    assert table["versions"] == ["3.0", "3.1"] and list(table["logs"]) == ["foo"]
    foo = table["logs"]["foo"]
    assert foo["source"] == "base/protocols/foo/main.zeek"
    assert foo["columns"] == [
        {"name": "ts", "type": "time"}, {"name": "id.orig_h", "type": "addr"}, {"name": "id.orig_p", "type": "port"},
        {"name": "id.resp_h", "type": "addr"}, {"name": "id.resp_p", "type": "port"},
        {"name": "added", "type": "interval", "since": "3.1"}, {"name": "names", "type": "vector[string]"},
        {"name": "where.city", "type": "string"}, {"name": "old", "type": "count", "until": "3.0"}]
    assert foo["optional"] == [
        {"name": "extra", "type": "set[addr]", "script": "policy/protocols/foo/extra.zeek"},
        {"name": "newer", "type": "bool", "since": "dev",
         "script": "development branch after 3.1: base/protocols/foo/main.zeek"}]


def test_the_shipped_table_is_the_tools_output_format():
    """zeek_logs.json is what the tool writes (its own dump of its own parse), not an edited copy."""
    tool = _tool()
    shipped = (REPO / "workflows" / "zeek_logs.json").read_text(encoding="utf-8")
    assert tool.dump(json.loads(shipped)) == shipped
    assert list(json.loads(shipped)["versions"]) == list(VERSIONS) and len(HISTORIES) == 75


# Baselines whose test changes the columns itself: it filters a column out, logs a field no script logs, or
# writes a subset. Each was read; the table is right there.
_SELF_FILTERED = {"irc": "dcc_mime_type filtered out by scripts.base.protocols.irc.basic", "stats": "field subsets",
                  "unknown_protocols": "7.1's scripts.policy.misc.unknown-protocols logs protocol_id_num"}


def test_the_table_agrees_with_what_zeek_wrote_in_its_own_btest_baselines():
    """Opt in with ZEEK_GIT_DIR=<a clone of github.com/zeek/zeek> (a minute a version): at every release tag,
    each log type among the baselines has one whose #fields are exactly that version's default columns, and
    every baseline column the schema knows has the baseline's type."""
    import os

    import pytest

    git_dir = os.environ.get("ZEEK_GIT_DIR")
    if not git_dir:
        pytest.skip("set ZEEK_GIT_DIR to a zeek/zeek clone to check the table against Zeek's baselines")
    tool = _tool()
    tags = dict(tool.release_tags(git_dir))
    assert list(tags) == list(VERSIONS)
    for version, tag in tags.items():
        exact, seen, wrong_types = set(), set(), []
        for path, log, fields, types in tool.baseline_headers(git_dir, tag):
            history = HISTORIES.get(log)
            if history is None or version not in history.versions():
                continue  # a test's own log
            schema = history.for_version(version)
            known = schema.known()
            seen.add(log)
            exact.update([log] if fields == [c.name for c in schema.columns] else [])
            wrong_types += [(path, f, t) for f, t in zip(fields, types)
                            if f in known and known[f].zeek_type != t.replace("table[", "set[")]
        assert not wrong_types, (version, wrong_types[:5])
        assert seen - exact <= set(_SELF_FILTERED), (version, sorted(seen - exact))
        assert len(exact) >= 50, version
