"""Batch scoring inside a job: a table (Parquet or CSV, a file or a folder) scored in chunks.

Copied into a command job's code snapshot and run there as ``python score.py ...`` (see
:mod:`mlbench.models.batch`), so it imports nothing of mlbench: it runs in any environment that
has MLflow, pandas and pyarrow, on any compute target. Memory stays at one chunk: the input is
read batch by batch with ``pyarrow.dataset`` and the output written with one Parquet writer.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

log = logging.getLogger("mlbench.score")


def _dataset(path: Path) -> Any:
    import pyarrow.dataset as ds

    files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file())
    kinds = {p.suffix.lower() for p in files}
    if not files:
        raise SystemExit(f"score: no files in {path}")
    if kinds <= {".parquet", ".pq"}:
        return ds.dataset([str(p) for p in files], format="parquet")
    if kinds <= {".csv"}:
        return ds.dataset([str(p) for p in files], format="csv")
    raise SystemExit(
        f"score: cannot read {', '.join(sorted(kinds))} files: give Parquet or CSV tables"
    )


def _tensor_width(schema: Any) -> int | None:
    """The column count of a single 2-D tensor input (shape (-1, k)), else None."""
    inputs = schema.inputs
    if len(inputs) != 1 or not hasattr(inputs[0], "shape"):
        return None
    shape = inputs[0].shape
    return int(shape[1]) if len(shape) == 2 and shape[1] > 0 else None


def _predictions(model: Any, frame: Any, column: str) -> Any:
    """The model's output for ``frame`` as columns: ``column``, or ``column_<name>`` each when
    the model has several outputs."""
    import numpy as np
    import pandas as pd

    out = model.predict(frame)
    if isinstance(out, pd.DataFrame):
        out = out.set_axis(frame.index)
        if out.shape[1] == 1:
            return out.set_axis([column], axis=1)
        return out.add_prefix(f"{column}_")
    values = np.asarray(out)
    if values.ndim == 2 and values.shape[1] > 1:
        names = [f"{column}_{i}" for i in range(values.shape[1])]
        return pd.DataFrame(values, columns=names, index=frame.index)
    return pd.DataFrame({column: values.reshape(len(frame))}, index=frame.index)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Score a table with an MLflow model, in chunks.")
    p.add_argument("--model", required=True, help="a local MLflow model folder")
    p.add_argument("--input", required=True, help="a Parquet/CSV file or a folder of them")
    p.add_argument("--output", required=True, help="the Parquet file to write")
    p.add_argument("--chunk-rows", type=int, default=100_000)
    p.add_argument("--prediction-column", default="prediction")
    p.add_argument(
        "--features", default="", help="comma-separated input columns (default: the signature's)"
    )
    p.add_argument("--no-keep-columns", action="store_true", help="write predictions only")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)

    import mlflow
    import mlflow.pyfunc
    import pyarrow as pa
    import pyarrow.parquet as pq

    model = mlflow.pyfunc.load_model(args.model)
    data = _dataset(Path(args.input))
    features = [c for c in args.features.split(",") if c]
    schema = model.metadata.get_input_schema()
    if not features and schema is not None and schema.has_input_names():
        features = schema.input_names()
    if not features and schema is not None and not schema.has_input_names():
        width = _tensor_width(schema)
        if width is not None and width != len(data.schema.names):
            raise SystemExit(
                f"score: the model takes {width} unnamed input columns (a tensor signature) and "
                f"the table has {len(data.schema.names)} ({', '.join(data.schema.names)}): name "
                "the model's columns with --features a,b,..."
            )
    missing = [c for c in features if c not in data.schema.names]
    if missing:
        raise SystemExit(
            f"score: the table has no column(s) {', '.join(missing)} that the model needs "
            f"(its columns: {', '.join(data.schema.names)})"
        )
    if args.prediction_column in data.schema.names and not args.no_keep_columns:
        raise SystemExit(
            f"score: the table already has a column {args.prediction_column!r}: name the "
            "predictions otherwise (--prediction-column)"
        )
    Path(args.output).parent.mkdir(parents=True, exist_ok=True)
    writer = None
    rows = 0
    started = time.monotonic()
    run = mlflow.start_run() if os.environ.get("MLFLOW_RUN_ID") else None  # the job's run
    try:
        for batch in data.to_batches(batch_size=args.chunk_rows):
            if batch.num_rows == 0:
                continue
            frame = batch.to_pandas()
            scored = _predictions(
                model, frame[features] if features else frame, args.prediction_column
            )
            table = pa.Table.from_pandas(
                scored if args.no_keep_columns else frame.join(scored), preserve_index=False
            )
            if writer is None:
                writer = pq.ParquetWriter(args.output, table.schema)
            writer.write_table(table.cast(writer.schema))
            rows += batch.num_rows
            log.info("scored %d rows", rows)
            if run is not None:
                mlflow.log_metric("rows_scored", rows)
    finally:
        if writer is not None:
            writer.close()
        if run is not None:
            mlflow.end_run()
    if writer is None:
        raise SystemExit(f"score: {args.input} holds no rows")
    seconds = time.monotonic() - started
    log.info("done: %d rows in %.1f s (%.0f rows/s)", rows, seconds, rows / max(seconds, 1e-9))
    return 0


if __name__ == "__main__":
    sys.exit(main())
