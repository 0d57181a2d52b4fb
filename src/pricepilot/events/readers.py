"""Streaming readers for event files (CSV, JSON lines, Parquet) in bounded batches.

Each batch is an Arrow table of the file's known columns plus the line (CSV, JSON lines) or row
(Parquet, 1-based) number of every row, so errors can name where they came from. Rows that are
structurally broken (wrong number of CSV cells, a JSON line that is not an object) become
:class:`~pricepilot.events.validate.Reject` entries instead of batch rows.

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "e.csv"
>>> _ = p.write_text("event_id,type\\ne1,view\\ne2,view\\n")
>>> r = EventFileReader(p, batch_size=10)
>>> [(b.table.num_rows, b.lines.tolist()) for b in r]
[(2, [2, 3])]
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec
import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from pricepilot.errors import ValidationError
from pricepilot.events.validate import FILE_COLUMNS, Reject


@dataclass
class RawBatch:
    table: pa.Table
    lines: np.ndarray


def file_format(path: Path) -> str:
    """``csv``, ``jsonl`` or ``parquet`` from the file name."""
    name = path.name.lower()
    if name.endswith((".csv", ".csv.gz")):
        return "csv"
    if name.endswith((".jsonl", ".ndjson", ".json", ".jsonl.gz")):
        return "jsonl"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    raise ValidationError("event file", None, "unknown format: use .csv, .jsonl or .parquet",
                          location=str(path))


class EventFileReader:
    """Iterate a file as :class:`RawBatch` es; ``rejects`` and ``ignored_columns`` fill as it goes."""

    def __init__(self, path: str | Path, batch_size: int = 50_000) -> None:
        self.path = Path(path)
        self.batch_size = batch_size
        self.format = file_format(self.path)
        self.rejects: list[Reject] = []
        self.ignored_columns: set[str] = set()
        if not self.path.exists():
            raise ValidationError("event file", None, "does not exist", location=str(self.path))

    def estimated_rows(self) -> int:
        """Rows in the file: exact for Parquet, from the size for text (about 100 bytes/row)."""
        if self.format == "parquet":
            try:
                return int(pq.ParquetFile(self.path).metadata.num_rows)
            except (pa.ArrowInvalid, OSError):
                return 0
        return self.path.stat().st_size // 100

    def __iter__(self) -> Iterator[RawBatch]:
        if self.format == "csv":
            return self._csv()
        if self.format == "parquet":
            return self._parquet()
        return self._jsonl()

    def _reject(self, line: int, reason: str, text: str | None = None) -> None:
        self.rejects.append(Reject(source=self.path.name, unit="line" if self.format != "parquet"
                                   else "row", line=line, event_id=None, field=None,
                                   reason=reason, value=text))

    # -- CSV -----------------------------------------------------------------------------------
    def _csv(self) -> Iterator[RawBatch]:
        with io.open(self.path, newline="", encoding="utf-8-sig") as fh:
            header = next(csv.reader(fh), [])
        known = [c for c in header if c in FILE_COLUMNS]
        self.ignored_columns |= {c for c in header if c not in FILE_COLUMNS}
        if "event_id" not in header:
            raise ValidationError("event file", "event_id", "the header has no event_id column",
                                  location=f"{self.path.name}, line 1")
        skipped: list[int] = []
        by_text: dict[str, list[int]] = {}

        def locate(text: str) -> int:
            # Arrow's streaming reader does not always know the line of a broken row; find it
            # by its text (error path only: one pass over the file, then a lookup).
            if not by_text:
                with io.open(self.path, newline="", encoding="utf-8-sig") as fh:
                    for no, ln in enumerate(fh, start=1):
                        by_text.setdefault(ln.rstrip("\r\n"), []).append(no)
            hits = by_text.get(text.rstrip("\r\n"), [])
            return hits.pop(0) if hits else -1

        def on_invalid(row: Any) -> str:
            line = int(row.number) if row.number is not None else locate(row.text)
            skipped.append(line)
            self._reject(line, f"expected {row.expected_columns} cells, found "
                               f"{row.actual_columns}", row.text)
            return "skip"

        reader = pacsv.open_csv(
            self.path,
            read_options=pacsv.ReadOptions(block_size=max(1 << 20, self.batch_size * 160)),
            parse_options=pacsv.ParseOptions(invalid_row_handler=on_invalid),
            convert_options=pacsv.ConvertOptions(
                column_types={c: pa.string() for c in header}, include_columns=known,
                strings_can_be_null=True, quoted_strings_can_be_null=False,
            ),
        )
        next_line = 2
        with reader:
            for rb in reader:
                n = rb.num_rows
                lines = np.empty(n, dtype=np.int64)
                # Skipped lines leave gaps in the numbering of the rows that follow them.
                gaps = sorted(x for x in skipped if x >= next_line)
                i = 0
                while i < n:
                    if gaps and gaps[0] == next_line:
                        gaps.pop(0)
                        next_line += 1
                        continue
                    lines[i] = next_line
                    next_line += 1
                    i += 1
                table = pa.Table.from_batches([rb])
                for start in range(0, n, self.batch_size):
                    yield RawBatch(table.slice(start, self.batch_size),
                                   lines[start:start + self.batch_size])

    # -- Parquet -------------------------------------------------------------------------------
    def _parquet(self) -> Iterator[RawBatch]:
        try:
            f = pq.ParquetFile(self.path)
        except (pa.ArrowInvalid, OSError) as e:
            raise ValidationError("event file", None, f"not a Parquet file: {e}",
                                  location=str(self.path)) from e
        names = f.schema_arrow.names
        known = [c for c in names if c in FILE_COLUMNS]
        self.ignored_columns |= {c for c in names if c not in FILE_COLUMNS}
        if "event_id" not in names:
            raise ValidationError("event file", "event_id", "has no event_id column",
                                  location=self.path.name)
        row = 1
        for rb in f.iter_batches(batch_size=self.batch_size, columns=known):
            yield RawBatch(pa.Table.from_batches([rb]),
                           np.arange(row, row + rb.num_rows, dtype=np.int64))
            row += rb.num_rows

    # -- JSON lines ----------------------------------------------------------------------------
    def _jsonl(self) -> Iterator[RawBatch]:
        dec = msgspec.json.Decoder(float_hook=Decimal)  # exact: 19.99 stays 19.99
        cols: dict[str, list[str | None]] = {c: [] for c in FILE_COLUMNS}
        lines: list[int] = []

        def flush() -> RawBatch:
            t = pa.table({c: pa.array(v, pa.string()) for c, v in cols.items()})
            b = RawBatch(t, np.asarray(lines, dtype=np.int64))
            for v in cols.values():
                v.clear()
            lines.clear()
            return b

        with io.open(self.path, "rb") as fh:
            for lineno, raw in enumerate(fh, start=1):
                if not raw.strip():
                    continue
                try:
                    obj = dec.decode(raw)
                except msgspec.DecodeError as e:
                    self._reject(lineno, f"not valid JSON: {e}", raw.decode(errors="replace")[:200])
                    continue
                if not isinstance(obj, dict):
                    self._reject(lineno, "a JSON line must be an object")
                    continue
                row: dict[str, str | None] = {}
                bad = None
                for k, v in obj.items():
                    if k not in cols:
                        self.ignored_columns.add(k)
                        continue
                    if v is None or isinstance(v, str):
                        row[k] = v
                    elif isinstance(v, bool):
                        row[k] = "true" if v else "false"
                    elif isinstance(v, (int, Decimal)):
                        row[k] = str(v)
                    else:
                        bad = k
                        break
                if bad is not None:
                    self.rejects.append(Reject(
                        source=self.path.name, unit="line", line=lineno,
                        event_id=obj.get("event_id") if isinstance(obj.get("event_id"), str)
                        else None, field=bad, reason="must be a string or number"))
                    continue
                for c, v in cols.items():
                    v.append(row.get(c))
                lines.append(lineno)
                if len(lines) >= self.batch_size:
                    yield flush()
        if lines:
            yield flush()


def read_table_rows(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, row) of a small CSV or JSON-lines file: the catalogue and shopper files."""
    fmt = file_format(path)
    if fmt == "parquet":
        rows = pq.read_table(path).to_pylist()
        for i, r in enumerate(rows, start=1):
            yield i, {k: v for k, v in r.items() if v is not None and v != ""}
        return
    if fmt == "csv":
        with io.open(path, newline="", encoding="utf-8-sig") as fh:
            reader = csv.DictReader(fh)
            for r in reader:
                if None in r:
                    raise ValidationError("row", None, "has more cells than the header",
                                          location=f"{path.name}, line {reader.line_num}")
                yield reader.line_num, {k: v for k, v in r.items() if v not in (None, "")}
        return
    dec = msgspec.json.Decoder(float_hook=Decimal)
    with io.open(path, "rb") as fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                obj = dec.decode(raw)
            except msgspec.DecodeError as e:
                raise ValidationError("row", None, f"not valid JSON: {e}",
                                      location=f"{path.name}, line {lineno}") from e
            if not isinstance(obj, dict):
                raise ValidationError("row", None, "a JSON line must be an object",
                                      location=f"{path.name}, line {lineno}")
            yield lineno, {k: v for k, v in obj.items() if v is not None and v != ""}
