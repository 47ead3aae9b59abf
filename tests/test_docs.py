"""The README is the user's manual: every command and option of the CLI must be documented in it."""

from __future__ import annotations

import click
import pytest

from workflows.cli import cli

from .conftest import REPO

README = (REPO / "README.md").read_text(encoding="utf-8")


def _commands() -> list[tuple[str, click.Command]]:
    return sorted(cli.commands.items())


@pytest.mark.parametrize("name,command", _commands())
def test_every_command_is_documented(name: str, command: click.Command) -> None:
    assert f"zeekflow {name}" in README


@pytest.mark.parametrize(
    "name,option",
    [(name, opt) for name, command in _commands() for param in command.params
     if isinstance(param, click.Option) for opt in param.opts if opt.startswith("--")],
)
def test_every_option_is_documented(name: str, option: str) -> None:
    assert f"`{option}" in README or f", {option}" in README, f"{name} {option} is not in README.md"


def test_readme_opens_with_the_two_commands() -> None:
    head = README[:1500]
    assert "make demo" in head and "make test" in head


def test_ci_runs_the_readme_test_command() -> None:
    assert "make test" in (REPO / ".ci" / "run").read_text()
