"""The README is the user's manual: each command's option table says what the CLI does, field by field.

For every command, the table under its ``### `zeekflow NAME``` heading has one row per option (no more, no
fewer); a row's first cell is the option's names and metavar exactly as ``--help`` shows them; a choice's every
value is named in the row; and the row states the option's default as the CLI declares it (its value, or
``show_default``'s words when it depends on the run), and states none when the CLI declares none."""

from __future__ import annotations

import re

import click
import pytest

from workflows.cli import cli

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _commands() -> list[tuple[str, click.Command]]:
    return sorted(cli.commands.items())


def _options(command: click.Command) -> list[click.Option]:
    return [param for param in command.params if isinstance(param, click.Option) and "--help" not in param.opts]


def _table(name: str) -> dict[str, str]:
    """The option table of ``zeekflow NAME``'s section: first cell (backticks off, ``\\|`` unescaped) → row."""
    section = README.split(f"### `zeekflow {name}`\n", 1)[1]
    section = re.split(r"^##", section, flags=re.MULTILINE)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    assert rows, f"no option table under zeekflow {name}"
    table: dict[str, str] = {}
    for row in rows:
        first, meaning = (cell.strip() for cell in re.split(r"(?<!\\)\|", row)[1:3])
        assert first.startswith("`") and first.endswith("`"), row
        key = first.strip("`").replace("\\|", "|")
        assert key not in table, f"zeekflow {name}: {key} documented twice"
        table[key] = meaning.replace("\\|", "|")
    return table


def _signature(name: str, option: click.Option) -> str:
    """Names and metavar as ``zeekflow NAME --help`` shows them: ``-o, --output PATH``."""
    names = ", ".join(option.opts + option.secondary_opts)
    if option.is_flag:
        return names
    context = click.Context(cli.commands[name], info_name=name, parent=click.Context(cli, info_name="zeekflow"))
    return f"{names} {option.make_metavar(context)}"


def _default_words(option: click.Option) -> list[str] | None:
    """How a row may state the CLI's default (None: the CLI declares none)."""
    if isinstance(option.show_default, str):
        return [option.show_default]
    value = option.default
    if option.show_default and value is not None and not callable(value) and "UNSET" not in repr(value):
        return [f"{value:,}", str(value)] if isinstance(value, int) else [str(value)]
    return None


def _plain(text: str) -> str:
    return text.replace("`", "").lower()


@pytest.mark.parametrize("name,command", _commands())
def test_every_command_has_its_section_and_synopsis(name: str, command: click.Command) -> None:
    section = README.split(f"### `zeekflow {name}`\n", 1)
    assert len(section) == 2, f"README.md has no section for zeekflow {name}"
    assert f"zeekflow {name}" in re.split(r"^##", section[1], flags=re.MULTILINE)[0]


@pytest.mark.parametrize("name,command", _commands())
def test_each_option_table_has_exactly_the_commands_options(name: str, command: click.Command) -> None:
    documented = list(_table(name))
    actual = [_signature(name, option) for option in _options(command)]
    assert sorted(documented) == sorted(actual)


@pytest.mark.parametrize(
    "name,option", [(name, option) for name, command in _commands() for option in _options(command)],
    ids=lambda value: value if isinstance(value, str) else value.opts[-1],
)
def test_each_row_states_the_options_choices_and_default(name: str, option: click.Option) -> None:
    row = _table(name)[_signature(name, option)]
    if isinstance(option.type, click.Choice):
        named = set(re.findall(r"`([^`]+)`", row))
        assert set(option.type.choices) <= named, f"{option.opts[-1]}: {row}"
    if option.is_flag:
        return  # off unless given; a row may say so
    words = _default_words(option)
    stated = re.search(r"\bdefault\b:? ?(.*)", _plain(row))
    if words is None:
        assert stated is None, f"zeekflow {name} {option.opts[-1]}: the README states a default the CLI lacks"
        return
    assert stated, f"zeekflow {name} {option.opts[-1]}: the README states no default; the CLI's is {words[0]!r}"
    if option.opts[-1] == "--engines" and stated.group(1).startswith("all but"):
        # "all but X": every engine the benchmark knows but X must be the CLI's default list.
        from workflows.bench import ENGINES

        left_out = set(re.findall(r"`([^`]+)`", re.split(r"[.;]", row.split("all but", 1)[1])[0]))
        assert left_out <= set(ENGINES)
        assert sorted(set(ENGINES) - left_out) == sorted(option.default.split(","))
        return
    assert any(stated.group(1).startswith(_plain(word)) for word in words), (
        f"zeekflow {name} {option.opts[-1]}: README says default {stated.group(1)!r}, the CLI {words[0]!r}")


def test_the_bench_engines_row_names_every_engine() -> None:
    from workflows.bench import ENGINES

    row = _table("bench")["--engines LIST"]
    assert set(ENGINES) <= set(re.findall(r"`([^`]+)`", row))


def test_readme_opens_with_the_two_commands() -> None:
    head = README[:1500]
    assert "make demo" in head and "make test" in head


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (REPO / ".ci" / "run").read_text()


def test_every_subpackage_is_installed() -> None:
    # setuptools installs only the packages pyproject.toml names: one left out works in an editable install
    # and is missing from a wheel (a cluster host's install).
    import tomllib

    listed = set(tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"]["packages"])
    found = {".".join(init.parent.relative_to(REPO).parts) for init in (REPO / "workflows").rglob("__init__.py")}
    assert found == listed
