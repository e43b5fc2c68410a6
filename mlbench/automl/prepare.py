"""The data preparation the guardrails decided, as the first step of the logged model.

It lives in the model (an sklearn ``Pipeline``), so scoring data is prepared exactly as the
training data was: the columns the guardrails dropped are dropped, missing values filled with
the training data's medians and most frequent values; a forecaster's timestamps are put
first and read as datetimes.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin


class Prepare(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(
        self,
        drop: list[str] | None = None,
        fill: dict[str, Any] | None = None,
        time_column: str | None = None,
    ) -> None:
        self.drop = drop
        self.fill = fill
        self.time_column = time_column

    def fit(self, frame: Any, y: Any = None) -> Prepare:
        return self

    def transform(self, frame: Any) -> Any:
        frame = frame.drop(columns=[c for c in self.drop or [] if c in frame.columns])
        fill = {k: v for k, v in (self.fill or {}).items() if k in frame.columns}
        frame = frame.fillna(fill) if fill else frame
        if self.time_column is not None:
            import pandas as pd

            # FLAML's forecasters take the timestamps as the first column, as datetimes (text
            # from a JSON request to an endpoint included)
            rest = [c for c in frame.columns if c != self.time_column]
            frame = frame[[self.time_column, *rest]].copy()
            frame[self.time_column] = pd.to_datetime(frame[self.time_column])
        return frame
