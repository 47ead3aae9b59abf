"""Parquet output: each task writes its partition as a Parquet file typed by the schema; the run assembles them.

Arrow types follow the Zeek types so no reader has to guess: ``addr``/``string``/``enum``/``subnet`` as string,
``port`` as uint16, ``count`` as uint64, ``int`` as int64, ``double`` and ``interval`` as float64 (an
interval in seconds), ``time`` as timestamp[us, UTC], ``bool`` as bool, sets and vectors as lists of their
element type. Each field keeps its Zeek type in the field metadata (``zeek_type``).

A block of NDJSON lines becomes a table in two steps: the block converter (the native kernel where it was
built) writes its CSV rows, rejects and counts, exactly as for CSV output; Arrow's CSV reader then types those
rows with the schema's Arrow types (``CsvTableSink``), and the columns CSV cannot type directly are finished
here: times, sets and vectors. Where the CSV text has lost something the values had (an empty string and an
unset one are both an empty field; so are ``[]``, ``[null]`` and an unset set; a comma inside a set's
element looks like two elements), the raw block says so, and those cells are taken from the lines themselves.
``ValueCollector`` keeps the older way (Arrow arrays from the checked Python values, ``ArrowTables``): TSV inputs and
``--ts-format``/``--csv-safe`` take it, and a block whose lines cannot be matched to its rows falls back to it.

The run's output is a dataset folder of ``part-NNNNNN.parquet`` files in partition order (what DuckDB's
``read_parquet('out.parquet/*.parquet')``, Polars' ``scan_parquet`` and ``dask.dataframe.read_parquet`` read),
or with ``--single-file`` one file whose row groups are the partitions' row groups, copied in order.
pyarrow is an optional dependency: ``pip install 'zeekflow[parquet]'``.
"""

from __future__ import annotations

import functools
import io
import os
import re
import shutil
import tempfile
from itertools import accumulate
from typing import Any, Sequence

import orjson

from .errors import UsageError
from .normalize import to_microseconds
from .render import BlockConverter, BlockResult
from .schema import Column, Kind
from .workfiles import file_checksum

PARQUET_COMPRESSION = "zstd"

# Marks in a raw NDJSON block of values the CSV text cannot tell apart (each may also match inside a string,
# which costs only the exact look-up of some cells): an empty string value or element (an empty field, like
# an unset value), an empty array or ``[null]`` (an empty field, like an unset set), and a string of digits
# only (``"20200605"``, an ISO 8601 date, which its CSV field shows as the integer 20200605).
_EMPTY_STRING = re.compile(rb'[:\[,][ \t\r]*""')
_DIGITS_STRING = re.compile(rb'"[0-9]+"')
# How the converters write numbers (Python's repr): an integer, or a float with "." or an exponent.
_INTEGER_TEXT = r"^-?[0-9]+$"
_FLOAT_TEXT = r"^-?[0-9]+(?:\.[0-9]+)?(?:e[-+]?[0-9]+)?$"
# A block whose cells to look up are more than one in this many of its rows takes the value path.
_LOOKUP_SHARE = 8
# Blocks a ParquetBlocks offers the kernel and the sink before giving up on them, if more went the value path.
_TRIAL = 3


def require_pyarrow() -> None:
    """Raise UsageError (exit 2) with the fix when pyarrow is not installed."""
    try:
        import pyarrow  # noqa: F401
        import pyarrow.parquet  # noqa: F401
    except ImportError:
        raise UsageError("Parquet output needs pyarrow: pip install 'zeekflow[parquet]'") from None


def arrow_type(column: Column):
    """The column's Arrow type, from the type table (sets and vectors: a list of the element's type)."""
    import pyarrow as pa

    if column.kind is Kind.LIST:
        return pa.list_(column.scalar.arrow_type())
    return column.scalar.arrow_type()


def arrow_schema(columns: Sequence[Column]):
    import pyarrow as pa

    return pa.schema(
        [pa.field(c.name, arrow_type(c), metadata={"zeek_type": c.zeek_type}) for c in columns]
    )


def _to_arrow_values(column: Column, values: list[Any]) -> list[Any]:
    """Checked JSON-like values as values pyarrow takes for the column's type."""
    kind, element_kind = column.kind, column.element_kind
    if kind is Kind.TIME:
        return [None if v is None else to_microseconds(v) for v in values]
    if kind is Kind.LIST and element_kind is Kind.TIME:
        return [None if v is None else [None if e is None else to_microseconds(e) for e in v] for v in values]
    return values


def _values_array(column: Column, values: list[Any], arrow_type):
    import pyarrow as pa

    return pa.array(_to_arrow_values(column, values), type=arrow_type)


class ArrowTables:
    """The value path's sink: each block's checked column values as one Arrow table of the schema."""

    renders_csv = False

    def __init__(self, columns: Sequence[Column]) -> None:
        self.schema = arrow_schema(columns)
        self.tables: list[Any] = []

    def emit(self, columns: Sequence[Column], values: list[list[Any]]) -> str:
        import pyarrow as pa

        arrays = [_values_array(c, v, f.type) for c, v, f in zip(columns, values, self.schema)]
        self.tables.append(pa.Table.from_arrays(arrays, schema=self.schema))
        return ""

    def take(self) -> list[Any]:
        tables, self.tables = self.tables, []
        return tables


class ValueCollector:
    """The value path to Parquet, for TSV inputs, value transforms, enrichment and the blocks CsvTableSink
    declines: the reference's parsing and checks (``converter``) with its values going to Arrow tables."""

    def __init__(self, columns: Sequence[Column], input_name: str, transforms=None, enricher=None) -> None:
        output = tuple(columns) + (tuple(enricher.columns) if enricher is not None else ())
        self.sink = ArrowTables(output)
        self.schema = self.sink.schema
        self.converter = BlockConverter(columns, input_name, transforms, enricher=enricher, sink=self.sink)

    @property
    def kernel(self) -> str:
        return self.converter.kernel

    def convert(self, block: bytes, base_offset: int = 0) -> BlockResult:
        return self.converter.convert(block, base_offset)

    def take(self) -> list[Any]:
        return self.sink.take()


class _Marks:
    """What a raw NDJSON block holds that its CSV text cannot show (see the patterns above); each is looked
    for only when a column asks."""

    def __init__(self, block: bytes) -> None:
        self._block = block

    @functools.cached_property
    def empty_string(self) -> bool:
        return b'""' in self._block and _EMPTY_STRING.search(self._block) is not None

    @functools.cached_property
    def empty_array(self) -> bool:
        spans = self._spans
        return spans is None or any(span.translate(None, b" \t\r") in (b"[]", b"[null]") for span in spans)

    @functools.cached_property
    def digits_string(self) -> bool:
        return _DIGITS_STRING.search(self._block) is not None

    @functools.cached_property
    def _spans(self) -> list[bytes] | None:
        """Each ``[`` of the block with what follows it up to the next ``]``; None when another ``[`` comes
        first (or no ``]``). An array's ``[`` is outside strings, so its span parses as JSON exactly when the
        span is the whole array (a ``]`` inside an element would end the span inside a string); a ``[``
        inside a string only adds a span."""
        block, spans = self._block, []
        start = block.find(b"[")
        while start >= 0:
            end = block.find(b"]", start)
            following = block.find(b"[", start + 1)
            if end < 0 or 0 <= following < end:
                return None
            spans.append(block[start:end + 1])
            start = following
        return spans

    @functools.cached_property
    def comma_element(self) -> bool:
        """Whether some array may hold a string element with a comma."""
        spans = self._spans
        if spans is None:
            return True
        if not spans:
            return False
        try:
            arrays = orjson.loads(b"[" + b",".join(spans) + b"]")
        except orjson.JSONDecodeError:
            return True
        return any(type(v) is str and "," in v for array in arrays for v in array)


def _row_lines(block: bytes, base_offset: int, result: BlockResult) -> list[bytes] | None:
    """The raw line of each row of ``result``, in order (rows are the lines neither blank nor rejected);
    None when they cannot be matched."""
    body = block[:-1] if block.endswith(b"\n") else block
    lines = body.split(b"\n")
    if result.rejected or result.blank:
        skipped = set()
        if result.rejected:
            starts = {start: i for i, start in enumerate(accumulate((len(line) + 1 for line in lines), initial=0))}
            for record in result.rejects.splitlines():
                index = starts.get(orjson.loads(record)["offset"] - base_offset)
                if index is None:
                    return None
                skipped.add(index)
        if result.blank:
            skipped.update(i for i, line in enumerate(lines) if not line.strip(b" \t\r"))
        lines = [line for i, line in enumerate(lines) if i not in skipped]
    return lines if len(lines) == result.rows else None


class CsvTableSink:
    """Turns the CSV rows a plain ``BlockConverter`` wrote for a block into the block's Arrow table.

    Arrow's CSV reader types every column from the schema (no inference; an empty field is null, and
    ``true``/``false`` are the booleans); times, sets and vectors are read as text and finished here, with
    Arrow's compute functions on the common forms. The table equals, cell for cell, the one the value path
    (``ValueCollector``) builds from the same lines: a cell whose CSV text is ambiguous is looked up in its
    line. ``table`` returns None when the rows cannot be matched to the block's lines, or when more than one
    row in eight would have to be looked up (the caller then takes the value path).
    """

    def __init__(self, columns: Sequence[Column]) -> None:
        import pyarrow as pa
        import pyarrow.csv as pcsv

        self.columns = tuple(columns)
        self.schema = arrow_schema(self.columns)
        names = [c.name for c in self.columns]
        text = (Kind.TIME, Kind.LIST)
        self._parse = pcsv.ParseOptions(newlines_in_values=True, ignore_empty_lines=False)
        self._convert = pcsv.ConvertOptions(
            column_types={c.name: pa.string() if c.kind in text else f.type for c, f in zip(self.columns, self.schema)},
            null_values=[""], true_values=["true"], false_values=["false"],
            strings_can_be_null=True, quoted_strings_can_be_null=True,
            check_utf8=False,  # the converters write UTF-8 only (invalid input bytes are rejected lines)
        )
        self._names = names

    def table(self, block: bytes, base_offset: int, result: BlockResult):
        import numpy as np
        import pyarrow as pa
        import pyarrow.csv as pcsv

        read = pcsv.ReadOptions(column_names=self._names, use_threads=False,
                                block_size=max(len(result.csv) + 1, 1 << 16))
        cells = pcsv.read_csv(io.BytesIO(result.csv), read_options=read, parse_options=self._parse,
                              convert_options=self._convert)
        if cells.num_rows != result.rows:
            return None
        marks = _Marks(block)
        arrays, doubts = [], {}
        for position, (column, field) in enumerate(zip(self.columns, self.schema)):
            array, doubt = self._finish(column, field.type, cells.column(position).combine_chunks(), marks)
            arrays.append(array)
            if doubt is not None and doubt.any():
                doubts[position] = doubt
        if doubts:
            rows = np.flatnonzero(np.logical_or.reduce(list(doubts.values())))
            lines = _row_lines(block, base_offset, result)
            if lines is None:
                return None
            if len(rows) * _LOOKUP_SHARE > result.rows:
                return None  # the value path costs less than looking most rows up
            records = _parse([lines[row] for row in rows])
            if records is None:
                return None
            index = np.arange(result.rows)
            index[rows] = result.rows + np.arange(len(rows))
            for position in doubts:
                column, arrow_type = self.columns[position], self.schema.field(position).type
                exact = _values_array(column, [r.get(column.name) for r in records], arrow_type)
                arrays[position] = pa.concat_arrays([arrays[position], exact]).take(pa.array(index))
        return pa.Table.from_arrays(arrays, schema=self.schema)

    def _finish(self, column: Column, arrow_type, cells, marks: _Marks):
        """The column's array from its CSV cells, and which rows (a numpy bool array) must be looked up
        in their lines instead (None: none)."""
        kind = column.kind
        if kind is Kind.STRING:
            return cells, (_nulls(cells) if cells.null_count and marks.empty_string else None)
        if kind is Kind.TIME:
            return _times(cells, marks)
        if kind is Kind.LIST:
            return _lists(column, arrow_type, cells, marks)
        return cells, None  # numbers and booleans: Arrow's reader typed them


def _parse(lines: list[bytes]) -> list[dict] | None:
    """The records of row lines, in one orjson call; None if some line does not parse as an object."""
    try:
        records = orjson.loads(b"[" + b",".join(lines) + b"]")
    except orjson.JSONDecodeError:
        return None
    return records if len(records) == len(lines) and all(type(r) is dict for r in records) else None


def _nulls(array):
    return array.is_null().to_numpy(zero_copy_only=False)


def _times(cells, marks: _Marks):
    """A time column's CSV cells (epoch seconds, integer milliseconds or ISO 8601 text) as timestamps, as
    ``normalize.to_microseconds`` gives them."""
    import pyarrow as pa
    import pyarrow.compute as pc

    timestamp = pa.timestamp("us", tz="UTC")
    doubt = None
    if cells.null_count == len(cells):
        return pa.nulls(len(cells), timestamp), None
    if pc.all(pc.match_substring_regex(cells, _FLOAT_TEXT)).as_py() and not pc.any(
            pc.match_substring_regex(cells, _INTEGER_TEXT)).as_py():
        # Epoch seconds: round(seconds * 1e6) with Python's rounding (half to even).
        micros = pc.round(pc.multiply(cells.cast(pa.float64()), 1_000_000.0), round_mode="half_to_even")
        return micros.cast(pa.int64()).cast(timestamp), None
    texts = cells.to_pylist()
    if marks.digits_string:
        # An ISO 8601 date of digits only and an integer are the same CSV text: such cells are looked up.
        integers = pc.match_substring_regex(cells, _INTEGER_TEXT)
        doubt = pc.fill_null(integers, False).to_numpy(zero_copy_only=False)
    values = [None if t is None else to_microseconds(_time_value(t)) for t in texts]
    return pa.array(values, type=timestamp), doubt


def _time_value(text: str) -> int | float | str:
    """A time cell as the value it was written from: an integer, a float, or ISO 8601 text."""
    if re.fullmatch(_INTEGER_TEXT, text):
        return int(text)
    if re.fullmatch(_FLOAT_TEXT, text):
        return float(text)
    return text


def _lists(column: Column, arrow_type, cells, marks: _Marks):
    """A set's or vector's CSV cells (elements joined by ",") as lists of the element type."""
    import pyarrow as pa
    import pyarrow.compute as pc

    element_kind = column.element_kind
    nulls = _nulls(cells)
    # An empty field is an unset set, or one of [], [null] and [""].
    empty_doubt = cells.null_count > 0 and (
        marks.empty_array or (element_kind is Kind.STRING and marks.empty_string))
    if nulls.all():
        return pa.nulls(len(cells), arrow_type), (nulls if empty_doubt else None)
    if element_kind is Kind.TIME:
        # Rare (no log of the shipped schemas has one): every such cell is looked up in its line.
        return pa.nulls(len(cells), arrow_type), ~nulls
    split = pc.split_pattern(cells, ",")
    flat = split.values
    # An empty element is a null one ("" elements are looked up below).
    flat = pc.if_else(pc.equal(flat, ""), pa.scalar(None, pa.string()), flat)
    element_type = arrow_type.value_type
    if element_kind is Kind.BOOL:
        flat = pc.equal(flat, "true")
    elif element_kind is not Kind.STRING:
        flat = flat.cast(element_type)
    lists = pa.ListArray.from_arrays(split.offsets, flat, type=arrow_type, mask=cells.is_null())
    doubt = nulls.copy() if empty_doubt else None
    if element_kind is Kind.STRING:
        # A comma inside an element looks like two elements, and an empty string element like a null one.
        commas = pc.fill_null(pc.match_substring(cells, ","), False)
        if pc.any(commas).as_py() and (marks.comma_element or marks.empty_string):
            if not marks.comma_element:
                commas = pc.fill_null(pc.match_substring_regex(cells, "^,|,,|,$"), False)
            suspect = commas.to_numpy(zero_copy_only=False)
            doubt = suspect if doubt is None else doubt | suspect
    return lists, doubt


class ParquetBlocks:
    """Converts NDJSON blocks for Parquet output with the native kernel: its CSV rows, rejects and counts
    (those of ``BlockConverter``, whose reference converts each line the kernel declines), typed by
    ``CsvTableSink``. A block the kernel declines whole (ISO 8601 times everywhere...), or whose cells the
    sink would mostly have to look up, takes the value path (``ValueCollector``), so no block costs much
    more than it did there; a converter whose blocks mostly go that way stops offering them after a few."""

    def __init__(self, columns: Sequence[Column], input_name: str) -> None:
        from .kernel import native_blocks

        self._native = native_blocks(columns)
        self._reference = BlockConverter(columns, input_name, fast_path=False)
        self._values = ValueCollector(columns, input_name)
        self.sink = CsvTableSink(columns)
        self.schema = self.sink.schema
        self.tables: list[Any] = []
        self._taken = self._declined = 0

    @property
    def kernel(self) -> str:
        return "native" if self._native is not None and self._taken else "python"

    def convert(self, block: bytes, base_offset: int = 0) -> BlockResult:
        result = table = None
        if self._native is not None and not (self._declined >= _TRIAL and self._declined > self._taken):
            result = self._native.convert(block, base_offset, self._reference.convert)
            if result is not None and result.rows:
                table = self.sink.table(block, base_offset, result)
            if result is not None and (table is not None or not result.rows):
                self._taken += 1
                if table is not None:
                    self.tables.append(table)
                result.csv = b""
                return result
            self._declined += 1
        result = self._values.convert(block, base_offset)
        self.tables.extend(self._values.take())
        return result

    def take(self) -> list[Any]:
        tables, self.tables = self.tables, []
        return tables


def parquet_converter(columns: Sequence[Column], input_name: str, transforms=None) -> ParquetBlocks | ValueCollector:
    """The converter of NDJSON blocks for Parquet output: ``ParquetBlocks`` where the native kernel was built
    and no value transform is asked for, else the value path."""
    from .kernel import native_blocks

    if transforms or native_blocks(columns) is None:
        return ValueCollector(columns, input_name, transforms)
    return ParquetBlocks(columns, input_name)


class ParquetShardWriter:
    """Writes a partition's tables as row groups of one Parquet file."""

    def __init__(self, path: str, collector: ValueCollector | ParquetBlocks) -> None:
        import pyarrow.parquet as pq

        self.path = path
        self.collector = collector
        self.writer = pq.ParquetWriter(path, collector.schema, compression=PARQUET_COMPRESSION)
        self._checksum = ""

    def write(self, result: BlockResult) -> int:
        for table in self.collector.take():
            self.writer.write_table(table)
        return 0

    def close(self) -> int:
        self.writer.close()
        self._checksum = file_checksum(self.path)
        return os.path.getsize(self.path)

    def checksum(self) -> str:
        return self._checksum


def _is_dataset_folder(path: str) -> bool:
    """True for a folder that holds only what a previous Parquet run wrote (so it may be replaced)."""
    return os.path.isdir(path) and all(
        name.startswith("part-") and name.endswith(".parquet") for name in os.listdir(path)
    )


def check_parquet_output(output: str, single_file: bool) -> None:
    """Before any work: pyarrow present, and the output not a folder of someone else's files."""
    require_pyarrow()
    if os.path.isdir(output) and (single_file or not _is_dataset_folder(output)):
        raise UsageError(f"output {output} is a folder that holds other files; choose another name")


def _rows(path: str) -> int:
    import pyarrow.parquet as pq

    return pq.ParquetFile(path).metadata.num_rows


def finish_parquet(shards: list[str], output: str, columns: Sequence[Column], single_file: bool) -> int:
    """Assemble the partition files (in order) into ``output``; return the bytes written.

    Partitions without rows are left out (all but one when every partition is empty, to keep the schema).
    """
    kept = [s for s in shards if _rows(s) > 0] or shards[:1]
    temporary = output + ".tmp"
    if not kept:  # no partitions at all (empty inputs): still a readable file with the schema
        import pyarrow.parquet as pq

        folder = tempfile.mkdtemp(prefix=".zeekflow-empty-", dir=os.path.dirname(os.path.abspath(output)))
        empty = os.path.join(folder, "part-000000.parquet")
        pq.write_table(arrow_schema(columns).empty_table(), empty)
        try:
            return finish_parquet([empty], output, columns, single_file)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    if single_file:
        import pyarrow.parquet as pq

        with pq.ParquetWriter(temporary, arrow_schema(columns), compression=PARQUET_COMPRESSION) as writer:
            for shard in kept:
                part = pq.ParquetFile(shard)
                for group in range(part.num_row_groups):
                    writer.write_table(part.read_row_group(group))
        with open(temporary, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(temporary, output)
        for shard in shards:
            os.unlink(shard)
        return os.path.getsize(output)

    if os.path.exists(temporary):
        shutil.rmtree(temporary)
    os.makedirs(temporary)
    written = 0
    for shard in kept:
        target = os.path.join(temporary, os.path.basename(shard))
        shutil.move(shard, target)
        written += os.path.getsize(target)
    for shard in shards:
        if os.path.exists(shard):
            os.unlink(shard)
    if _is_dataset_folder(output):
        shutil.rmtree(output)
    os.replace(temporary, output)
    return written
