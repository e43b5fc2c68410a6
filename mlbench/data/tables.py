"""Tables: CSV or Parquet files (or folders of them), read with pyarrow."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
from pathlib import Path
from typing import Any

from mlbench.data.models import ColumnInfo
from mlbench.errors import InvalidInputError

FORMATS = ("parquet", "csv")
_EXTENSIONS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv"}
PREVIEW_ROWS = 20
MAX_CELL = 200


def infer_format(paths: list[str], given: str | None = None) -> str:
    """The table format: ``given``, else from the files' extensions."""
    if given:
        if given not in FORMATS:
            raise InvalidInputError(
                f"unknown table format {given!r}", hint=f"formats: {', '.join(FORMATS)}"
            )
        return given
    found = {_EXTENSIONS.get(Path(p).suffix.lower()) for p in paths}
    found.discard(None)
    if len(found) == 1:
        return str(found.pop())
    if not found:
        raise InvalidInputError(
            "cannot tell the table's format from its file names",
            hint="use .csv or .parquet files, or pass format='csv' / 'parquet' (--format)",
        )
    raise InvalidInputError(
        "a table folder mixes CSV and Parquet files", hint="keep one format per table"
    )


def _dataset(source: Any, fmt: str, filesystem: Any = None) -> Any:
    import pyarrow.dataset as ds

    file_format: Any = fmt
    if fmt == "csv":
        import pyarrow.csv as pacsv

        delimiter = "\t" if str(source).lower().endswith(".tsv") else ","
        file_format = ds.CsvFileFormat(parse_options=pacsv.ParseOptions(delimiter=delimiter))
    try:
        return ds.dataset(source, format=file_format, filesystem=filesystem)
    except Exception as exc:
        raise InvalidInputError(
            f"cannot read {source} as a {fmt} table: {' '.join(str(exc).split())[:300]}"
        ) from None


def describe(
    source: Any, fmt: str, filesystem: Any = None
) -> tuple[list[ColumnInfo], int, list[dict[str, Any]]]:
    """(columns, row count, first rows) of a table, for the version record."""
    data = _dataset(source, fmt, filesystem)
    try:
        schema = data.schema
        rows = data.count_rows()
        head = data.head(PREVIEW_ROWS)
    except Exception as exc:
        raise InvalidInputError(
            f"cannot read {source} as a {fmt} table: {' '.join(str(exc).split())[:300]}"
        ) from None
    columns = [ColumnInfo(name=f.name, type=str(f.type), nullable=f.nullable) for f in schema]
    return columns, int(rows), rows_of(head)


def read(path: Path, fmt: str) -> Any:
    """The whole table as a ``pyarrow.Table``."""
    return _dataset(str(path), fmt).to_table()


def head(source: Path | list[str], fmt: str, n: int) -> list[dict[str, Any]]:
    """The first ``n`` rows of a table file, or of a list of its files."""
    return rows_of(_dataset(source if isinstance(source, list) else str(source), fmt).head(n))


def rows_of(table: Any) -> list[dict[str, Any]]:
    return [{k: jsonable(v) for k, v in row.items()} for row in table.to_pylist()]


def jsonable(value: Any) -> Any:
    """A cell as JSON: numbers and strings as they are, the rest as short text."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str):
        return value if len(value) <= MAX_CELL else value[: MAX_CELL - 1] + "…"
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value[:MAX_CELL]).decode()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value[:50]]
    return str(value)[:MAX_CELL]
