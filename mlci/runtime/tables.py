"""Read the columns `mlci drift` compares, from CSV (standard library) or Parquet (pyarrow).

Numeric columns become float arrays without their missing values; categorical
columns become counts per category, which is all the statistics need, so a
million rows of text never sit in memory as a million strings. CSV is read in
blocks, each column of a block converted with one numpy call; a file without
quotes is cut into cells by str.split, anything else goes through the csv module,
which also locates every error by line.
"""

from __future__ import annotations

import csv
import gzip
import itertools
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from mlci.errors import InputError, Location, UserError

CHUNK_ROWS = 65_536
BLOCK_BYTES = 8 << 20
# Cells that mean "no value", compared after strip() and lower().
MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "#n/a"})
PARQUET_SUFFIXES = (".parquet", ".pq")


@dataclass
class NumericColumn:
    values: np.ndarray  # float64, missing values removed
    missing: int
    kind: str = field(default="numeric", init=False)

    @property
    def count(self) -> int:
        return len(self.values)


@dataclass
class CategoricalColumn:
    counts: dict[str, int]  # missing values removed
    missing: int
    kind: str = field(default="categorical", init=False)

    @property
    def count(self) -> int:
        return sum(self.counts.values())


Column = NumericColumn | CategoricalColumn


@dataclass
class Table:
    shown: str  # the path as the user sees it
    rows: int
    columns: dict[str, Column]
    unsupported: dict[str, str] = field(default_factory=dict)  # column -> why it cannot be compared


def read_table(path: Path, shown: str, kinds: dict[str, str] | None = None, required: list[str] | None = None) -> Table:
    """Read a CSV (optionally .gz) or Parquet file.

    `kinds` fixes a column's type (the reference decides it for the current data);
    other columns are numeric when every value parses as a number. `required`
    columns must be present."""
    if not path.exists():
        raise UserError(f"{shown}: no such file")
    if path.is_dir():
        raise UserError(f"{shown}: is a folder, expected a CSV or Parquet file")
    kinds = dict(kinds or {})
    if path.name.lower().endswith(PARQUET_SUFFIXES):
        table = _read_parquet(path, shown, kinds)
    else:
        while True:
            try:
                table = _read_csv(path, shown, kinds)
                break
            except _Demoted as demoted:
                # A column looked numeric for a while, then held text: read again, counting it as categories.
                kinds[demoted.column] = "categorical"
    missing = [name for name in required or [] if name not in table.columns and name not in table.unsupported]
    if missing:
        raise InputError(Location(shown, 1), f"lacks the column(s) {', '.join(missing)} that the reference data has")
    return table


class _Demoted(Exception):
    def __init__(self, column: str) -> None:
        self.column = column


class _NotANumber(Exception):
    def __init__(self, column: str, row: int, value: str) -> None:
        self.column, self.row, self.value = column, row, value


def _is_missing(value: str) -> bool:
    return value.strip().lower() in MISSING


class _Builder:
    """Collects one column chunk by chunk."""

    def __init__(self, name: str, kind: str | None) -> None:
        self.name = name
        self.kind = kind  # None while still inferring
        self.chunks: list[np.ndarray] = []
        self.counts: Counter[str] = Counter()

    def add(self, values: list[str], first_row: int) -> None:
        if self.kind == "categorical":
            self.counts.update(values)
            return
        try:
            self.chunks.append(np.array(values, dtype=np.float64))
            return
        except ValueError:
            pass
        parsed = np.empty(len(values))
        for offset, value in enumerate(values):
            try:
                parsed[offset] = float(value)
            except ValueError:
                if not _is_missing(value):
                    if self.kind == "numeric":
                        raise _NotANumber(self.name, first_row + offset, value) from None
                    if self.chunks:
                        raise _Demoted(self.name) from None
                    # Text in the first chunk: a categorical column, and nothing to read again.
                    self.kind = "categorical"
                    self.counts.update(values)
                    return
                parsed[offset] = np.nan
        self.chunks.append(parsed)

    def build(self) -> Column:
        if self.kind == "categorical":
            missing = 0
            for key in [k for k in self.counts if _is_missing(k)]:
                missing += self.counts.pop(key)
            return CategoricalColumn(dict(self.counts), missing)
        values = np.concatenate(self.chunks) if self.chunks else np.empty(0)
        present = ~np.isnan(values)
        return NumericColumn(values[present], int(len(values) - present.sum()))


def _open_text(path: Path) -> Any:
    if path.name.lower().endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8-sig", newline="")
    return path.open(encoding="utf-8-sig", newline="")


def _open_binary(path: Path) -> Any:
    return gzip.open(path, "rb") if path.name.lower().endswith(".gz") else path.open("rb")


class _NeedsCsvModule(Exception):
    """The file has something only the csv module handles (quotes, blank lines) or an error it locates."""


def _read_csv(path: Path, shown: str, kinds: dict[str, str]) -> Table:
    builders: list[_Builder] = []
    try:
        try:
            rows, header_line = _read_plain_csv(path, shown, kinds, builders)
        except _NeedsCsvModule:
            builders.clear()
            rows, header_line = _read_quoted_csv(path, shown, kinds, builders)
    except (gzip.BadGzipFile, EOFError) as exc:
        raise InputError(Location(shown), f"not a readable gzip file: {exc}") from None
    except OSError as exc:
        raise UserError(f"{shown}: cannot read: {exc.strerror or exc}") from None
    except _NotANumber as bad:
        column = [b.name for b in builders].index(bad.column) + 1
        raise InputError(
            Location(shown, _line_of_row(path, bad.row)),
            f"column {bad.column!r} (field {column}): {bad.value!r} is not a number, "
            "but the column is numeric in the reference data",
        ) from None
    if rows == 0:
        raise InputError(Location(shown, header_line + 1), "no data rows after the header")
    return Table(shown, rows, {b.name: b.build() for b in builders})


def _read_plain_csv(path: Path, shown: str, kinds: dict[str, str], builders: list[_Builder]) -> tuple[int, int]:
    """The fast path for the common file without quotes or blank lines: whole blocks are cut
    into cells by str.split, in C. Anything unusual goes to the csv module instead."""
    with _open_binary(path) as handle:
        first = handle.readline()
        if b'"' in first or not first.strip():
            raise _NeedsCsvModule
        try:
            header = first.decode("utf-8-sig").rstrip("\r\n").split(",")
        except UnicodeDecodeError:
            raise _NeedsCsvModule from None
        names = _check_header(header, shown, 1)
        builders += [_Builder(name, kinds.get(name)) for name in names]
        width, rows, rest = len(names), 0, b""
        while True:
            block = handle.read(BLOCK_BYTES)
            data = rest + block
            if block:
                cut = data.rfind(b"\n") + 1  # a b"\n" byte is never part of a multi-byte UTF-8 character
                data, rest = data[:cut], data[cut:]
            elif data and not data.endswith(b"\n"):
                data += b"\n"
            if data:
                rows += _split_block(data, width, builders, rows)
            if not block:
                return rows, 1


def _split_block(data: bytes, width: int, builders: list[_Builder], first_row: int) -> int:
    if b'"' in data:
        raise _NeedsCsvModule
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n")
        if b"\r" in data:
            raise _NeedsCsvModule
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise _NeedsCsvModule from None
    if text.startswith("\n") or "\n\n" in text:
        raise _NeedsCsvModule
    lines = text.count("\n")
    cells = text.replace("\n", ",").split(",")
    if len(cells) != lines * width + 1:  # a row with too few or too many fields
        raise _NeedsCsvModule
    cells.pop()  # the empty string after the last line's end
    for index, builder in enumerate(builders):
        builder.add(cells[index::width], first_row)
    return lines


def _read_quoted_csv(path: Path, shown: str, kinds: dict[str, str], builders: list[_Builder]) -> tuple[int, int]:
    rows = 0
    reader: Any = None
    try:
        with _open_text(path) as handle:
            reader = csv.reader(handle, strict=True)
            header = next((row for row in reader if row), None)
            if header is None:
                raise InputError(Location(shown, 1), "the file is empty; expected a header row of column names")
            header_line = reader.line_num
            names = _check_header(header, shown, header_line)
            builders += [_Builder(name, kinds.get(name)) for name in names]
            width = len(names)
            while chunk := list(itertools.islice(reader, CHUNK_ROWS)):
                widths = set(map(len, chunk))
                if 0 in widths:  # blank lines
                    chunk = [row for row in chunk if row]
                    widths.discard(0)
                    if not chunk:
                        continue
                if widths != {width}:
                    bad = next(i for i, row in enumerate(chunk) if len(row) != width)
                    line = _line_of_row(path, rows + bad)
                    raise InputError(
                        Location(shown, line), f"{len(chunk[bad])} fields, but the header has {width} columns"
                    )
                # One flat list sliced per column is faster than zip(*chunk) over thousands of rows.
                cells = list(itertools.chain.from_iterable(chunk))
                for index, builder in enumerate(builders):
                    builder.add(cells[index::width], rows)
                rows += len(chunk)
    except csv.Error as exc:
        line = reader.line_num if reader is not None else 1
        raise InputError(Location(shown, max(line, 1)), f"invalid CSV: {exc}") from None
    except UnicodeDecodeError:
        line = (reader.line_num if reader is not None else 0) + 1
        raise InputError(Location(shown, line), "not valid UTF-8 text; save the file as UTF-8") from None
    return rows, header_line


def _check_header(header: list[str], shown: str, line: int) -> list[str]:
    names = [name.strip() for name in header]
    seen: set[str] = set()
    for index, name in enumerate(names, start=1):
        if not name:
            raise InputError(Location(shown, line), f"column {index} of the header has no name")
        if name in seen:
            raise InputError(Location(shown, line), f"column {name!r} appears twice in the header")
        seen.add(name)
    return names


def _line_of_row(path: Path, row: int) -> int:
    """The line a data row (0-based, blank lines not counted) starts on; read again only for a message."""
    with _open_text(path) as handle:
        reader = csv.reader(handle)
        index = -1  # the header
        end_of_previous = 0
        for record in reader:
            start, end_of_previous = end_of_previous + 1, reader.line_num
            if record:
                if index == row:
                    return start
                index += 1
    return end_of_previous


def _read_parquet(path: Path, shown: str, kinds: dict[str, str]) -> Table:
    try:
        import pyarrow as pa
        import pyarrow.compute as pc
        import pyarrow.parquet as pq
    except ImportError:
        raise UserError(f"{shown}: reading Parquet needs pyarrow (pip install pyarrow), or pass a CSV file") from None
    try:
        data = pq.read_table(path)
    except (pa.ArrowException, OSError) as exc:
        raise InputError(Location(shown), f"not a readable Parquet file: {exc}") from None
    columns: dict[str, Column] = {}
    unsupported: dict[str, str] = {}
    for name, column in zip(data.column_names, data.columns, strict=True):
        kind = column.type
        numeric = pa.types.is_integer(kind) or pa.types.is_floating(kind) or pa.types.is_decimal(kind)
        textual = pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_boolean(kind)
        textual = textual or pa.types.is_dictionary(kind)
        if numeric and kinds.get(name) != "categorical":
            values = column.cast(pa.float64()).to_numpy(zero_copy_only=False)
            present = ~np.isnan(values)
            columns[name] = NumericColumn(values[present], int(len(values) - present.sum()))
        elif textual or numeric:
            strings = pc.cast(column, pa.string())
            if kinds.get(name) == "numeric":
                columns[name] = _parse_numeric_strings(name, strings.to_pylist(), shown)
                continue
            counts: dict[str, int] = {}
            missing = strings.null_count
            for entry in pc.value_counts(strings).to_pylist():
                value, count = entry["values"], entry["counts"]
                if value is None or _is_missing(value):
                    missing += count if value is not None else 0
                else:
                    counts[value] = count
            columns[name] = CategoricalColumn(counts, missing)
        else:
            unsupported[name] = f"Parquet type {kind} is neither numeric nor categorical"
    return Table(shown, data.num_rows, columns, unsupported)


def _parse_numeric_strings(name: str, values: list[str | None], shown: str) -> NumericColumn:
    parsed = np.empty(len(values))
    for row, value in enumerate(values):
        try:
            parsed[row] = np.nan if value is None or _is_missing(value) else float(value)
        except ValueError:
            raise InputError(
                Location(shown),
                f"column {name!r}, row {row + 1}: {value!r} is not a number, "
                "but the column is numeric in the reference data",
            ) from None
    present = ~np.isnan(parsed)
    return NumericColumn(parsed[present], int(len(parsed) - present.sum()))
