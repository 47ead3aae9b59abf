"""Exceptions the library raises; the CLI maps each to a one-line message and an exit code."""

from __future__ import annotations


class ZeekflowError(Exception):
    """Base of zeekflow's errors. ``exit_code`` is what the CLI exits with."""

    exit_code = 1


class UsageError(ZeekflowError):
    """Bad usage or unusable input: a bad option value, a missing input, an unwritable output folder."""

    exit_code = 2


class RunFailed(ZeekflowError):
    """The run started but could not finish; the final output was not written."""

    exit_code = 1


class TooManyRejects(RunFailed):
    """More lines were rejected than ``--max-errors`` allows."""


class InputChanged(RunFailed):
    """An input shrank or was replaced between planning and reading: what was planned cannot be converted."""
