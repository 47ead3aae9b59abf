"""zeekflow: turn huge Zeek logs into analysis-ready files on Dask distributed, with bounded memory.

Library first; the ``zeekflow`` command is a thin layer over :func:`convert` and :func:`generate_capture`.
"""

from __future__ import annotations

__version__ = "0.1.0"

from .convert import convert, prepare
from .errors import RunFailed, TooManyRejects, UsageError, ZeekflowError
from .options import ConvertOptions
from .render import BlockConverter, BlockResult, convert_lines
from .schema import CONN, SCHEMAS, Column, LogSchema, get_schema
from .summary import Summary



def __getattr__(name: str):
    # The generator's tables take 30 ms to build: a conversion does not pay for them.
    if name == "generate_capture":
        from .generate import generate_capture

        return generate_capture
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "BlockConverter", "BlockResult", "CONN", "Column", "ConvertOptions", "LogSchema", "RunFailed", "SCHEMAS",
    "Summary", "TooManyRejects", "UsageError", "ZeekflowError", "convert", "convert_lines", "generate_capture",
    "get_schema", "prepare",
]
