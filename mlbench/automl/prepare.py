"""The data preparation the guardrails decided, as the first step of the logged model.

It lives in the model (an sklearn ``Pipeline``), so scoring data is prepared exactly as the
training data was: the columns the guardrails dropped are dropped, missing values filled with
the training data's medians and most frequent values.
"""

from __future__ import annotations

from typing import Any

from sklearn.base import BaseEstimator, TransformerMixin


class Prepare(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    def __init__(self, drop: list[str] | None = None, fill: dict[str, Any] | None = None) -> None:
        self.drop = drop
        self.fill = fill

    def fit(self, frame: Any, y: Any = None) -> Prepare:
        return self

    def transform(self, frame: Any) -> Any:
        frame = frame.drop(columns=[c for c in self.drop or [] if c in frame.columns])
        fill = {k: v for k, v in (self.fill or {}).items() if k in frame.columns}
        return frame.fillna(fill) if fill else frame
