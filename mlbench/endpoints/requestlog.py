"""The request log: sampled requests and answers, one Parquet row per input row.

The router only appends: it keeps sampled requests in memory and writes them every few
seconds (off the request path, in a thread) as Parquet files under ``requests/<UTC hour>/``.
The supervisor registers each hour's folder as a version of the data asset
``<endpoint>-requests`` once the hour is over (and on stop), as CONTRACTS.md says.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from mlbench.workspace import Workspace

log = logging.getLogger(__name__)

FLUSH_S = 2.0
HOUR_FORMAT = "%Y-%m-%dT%H"
# beside the hour folders (not in them: a folder is registered whole): per hour, how many part
# files its newest version holds
REGISTERED = ".registered"


class RequestLogWriter:
    def __init__(self, folder: Path, endpoint: str) -> None:
        self.folder = folder
        self.endpoint = endpoint
        self._pending: list[tuple[Any, ...]] = []
        self._lock = threading.Lock()
        self._seq = 0

    def add(
        self,
        body: bytes,
        content_type: str,
        answer: bytes,
        status: int,
        deployment: str,
        request_id: str,
        latency_ms: float,
        columns: list[str],
    ) -> None:
        now = datetime.now(timezone.utc)
        with self._lock:
            self._pending.append(
                (
                    now,
                    body,
                    content_type,
                    answer,
                    status,
                    deployment,
                    request_id,
                    latency_ms,
                    columns,
                )
            )

    async def run(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            try:
                await asyncio.to_thread(self.flush)
            except Exception:
                log.exception("writing the request log failed")

    def flush(self) -> None:
        with self._lock:
            pending, self._pending = self._pending, []
        if not pending:
            return
        import pandas as pd

        by_hour: dict[str, list[pd.DataFrame]] = {}
        for item in pending:
            by_hour.setdefault(item[0].strftime(HOUR_FORMAT), []).append(_rows(*item))
        for hour, frames in by_hour.items():
            table = pd.concat(frames, ignore_index=True)
            folder = self.folder / hour
            folder.mkdir(parents=True, exist_ok=True)
            self._seq += 1
            name = f"part-{datetime.now(timezone.utc):%M%S%f}-{os.getpid()}-{self._seq}.parquet"
            tmp = self.folder / f".{name}"  # outside the hour: never registered half-written
            table.to_parquet(tmp, index=False)
            os.replace(tmp, folder / name)


def _rows(
    at: datetime,
    body: bytes,
    content_type: str,
    answer: bytes,
    status: int,
    deployment: str,
    request_id: str,
    latency_ms: float,
    columns: list[str],
) -> pd.DataFrame:
    import pandas as pd

    try:
        features = parse_inputs(body, content_type, columns)
    except Exception:  # bad input is logged too (its status says so), without features
        features = pd.DataFrame(index=range(1))
    n = max(len(features), 1)
    if len(features) == 0:
        features = pd.DataFrame(index=range(1))
    features = features.reset_index(drop=True)
    try:
        predictions = parse_predictions(answer, n) if status < 400 else {}
    except Exception:
        predictions = {}
    for col, values in predictions.items():
        features[col] = values
    features["mlbench_time"] = pd.Series([at] * n, dtype="datetime64[us, UTC]")
    features["mlbench_request_id"] = request_id
    features["mlbench_deployment"] = deployment
    features["mlbench_status"] = pd.Series([status] * n, dtype="int32")
    features["mlbench_latency_ms"] = pd.Series([latency_ms] * n, dtype="float64")
    return features


def parse_inputs(body: bytes, content_type: str, columns: list[str]) -> pd.DataFrame:
    """The request's input rows as a table, for each of MLflow's formats."""
    import pandas as pd

    if content_type.split(";", maxsplit=1)[0].strip().lower() == "text/csv":
        return pd.read_csv(io.BytesIO(body))
    doc = json.loads(body)
    if "dataframe_split" in doc:
        split = doc["dataframe_split"]
        return pd.DataFrame(split["data"], columns=split.get("columns"))
    if "dataframe_records" in doc:
        return pd.DataFrame(doc["dataframe_records"])
    data = doc.get("instances", doc.get("inputs"))
    if isinstance(data, dict):  # columns: {name: [values]}
        return pd.DataFrame(data)
    if isinstance(data, list) and data and isinstance(data[0], dict):
        return pd.DataFrame(data)
    if isinstance(data, list) and data and isinstance(data[0], list):
        names = columns if len(columns) == len(data[0]) else None
        return pd.DataFrame(data, columns=names)
    raise ValueError("no input rows")


def parse_predictions(answer: bytes, n: int) -> dict[str, list[Any]]:
    preds = json.loads(answer)["predictions"]
    if isinstance(preds, dict):  # a multi-output model: {name: [values]}
        return {f"mlbench_prediction_{k}": list(v) for k, v in preds.items()}
    if preds and isinstance(preds[0], dict):
        keys = list(preds[0])
        return {f"mlbench_prediction_{k}": [p.get(k) for p in preds] for k in keys}
    if preds and isinstance(preds[0], list):
        return {f"mlbench_prediction_{i}": [p[i] for p in preds] for i in range(len(preds[0]))}
    return {"mlbench_prediction": list(preds)[:n]}


def register_hours(ws: Workspace, endpoint: str, folder: Path, *, all_hours: bool = False) -> int:
    """Register hour folders that are over (``all_hours``: the current one too) and have
    files not in a version yet; the number of versions made."""
    if not folder.is_dir():
        return 0
    current = datetime.now(timezone.utc).strftime(HOUR_FORMAT)
    made = 0
    for hour_dir in sorted(p for p in folder.iterdir() if p.is_dir() and p.name != REGISTERED):
        hour = hour_dir.name
        if hour >= current and not all_hours:
            continue
        parts = sorted(p.name for p in hour_dir.glob("part-*.parquet"))
        marker = folder / REGISTERED / hour
        done = int(marker.read_text()) if marker.exists() else 0
        if not parts or len(parts) <= done:
            continue
        start = datetime.strptime(hour, HOUR_FORMAT).replace(tzinfo=timezone.utc)
        ws.data.create(
            f"{endpoint}-requests",
            hour_dir,
            kind="folder",
            description=f"requests to endpoint {endpoint} sampled from {start:%Y-%m-%d %H}:00 "
            f"to {start + timedelta(hours=1):%H}:00 UTC",
            tags={"mlbench.endpoint": endpoint, "mlbench.hour": hour},
        )
        marker.parent.mkdir(exist_ok=True)
        marker.write_text(str(len(parts)))
        made += 1
    return made
