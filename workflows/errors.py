"""Exceptions the library raises; the CLI maps each to a one-line message and an exit code."""

from __future__ import annotations


def display_name(path: str) -> str:
    """``path`` as text that is always valid UTF-8, for reject records and messages: a name that is not UTF-8
    (Python holds its bytes as lone surrogates) shows those bytes escaped, ``conn-\\xff.log``."""
    try:
        raw = path.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:  # surrogates that no file name decodes to
        raw = path.encode("utf-8", "backslashreplace")
    return raw.decode("utf-8", "backslashreplace")


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
