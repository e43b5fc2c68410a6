"""Data guardrails run before the search, reported as Azure ML's are (Passed / Done / Alerted).

Done means mlbench changed the data to deal with it (the change is part of the logged model:
see :mod:`mlbench.automl.prepare`); Alerted means a problem that needs the user's judgement,
e.g. a column that predicts the target almost perfectly (it would not exist at prediction time).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlbench.automl.models import AutoMLGuardrail, AutoMLSettings

IMBALANCE_RATIO = 0.2  # smallest class / largest class below this: alerted
LEAK_SCORE = 0.99  # one column alone scoring this on held-out rows: alerted
LEAK_SAMPLE = 4000
HIGH_CARDINALITY = 0.5  # a text column with more distinct values than this share of the rows


@dataclass
class Preparation:
    drop: list[str] = field(default_factory=list)
    fill: dict[str, Any] = field(default_factory=dict)


def check(frame: Any, settings: AutoMLSettings) -> tuple[list[AutoMLGuardrail], Preparation]:
    """The guardrails of a table (the target column included) and the preparation they chose."""
    import pandas as pd

    forecasting = settings.task == "forecasting"
    target = frame[settings.target]
    # the timestamps are checked at submission, and kept whatever these checks say of them
    features = frame.drop(columns=[settings.target, *([settings.time_column] * forecasting)])
    prep = Preparation()
    rails: list[AutoMLGuardrail] = []
    rows = len(frame)

    if forecasting:
        horizon = settings.horizon or 0
        how = (
            f"the last {horizon} time steps held out, the {rows - horizon} before them "
            "trained on (time order)"
        )
    elif rows < settings.cv_below_rows:
        how = f"{settings.cv_folds}-fold cross-validation ({rows} rows < {settings.cv_below_rows})"
    else:
        how = f"a {settings.holdout_ratio:.0%} holdout split ({rows} rows)"
    rails.append(
        AutoMLGuardrail(name="validation_split", status="Done", message=f"validated with {how}")
    )

    if settings.task == "classification":
        counts = target.value_counts()
        ratio = float(counts.min() / counts.max()) if len(counts) else 1.0
        if ratio < IMBALANCE_RATIO:
            rails.append(
                AutoMLGuardrail(
                    name="class_imbalance",
                    status="Alerted",
                    message=f"the smallest class {str(counts.idxmin())!r} has "
                    f"{int(counts.min())} rows, "
                    f"{ratio:.1%} of the largest ({int(counts.max())}); prefer a metric such as "
                    "roc_auc, f1 or log_loss to accuracy, or collect more rows of that class",
                    columns=[settings.target],
                )
            )
        else:
            rails.append(
                AutoMLGuardrail(
                    name="class_imbalance",
                    status="Passed",
                    message=f"smallest/largest class ratio {ratio:.2f}",
                )
            )

    constant = [c for c in features.columns if features[c].nunique(dropna=False) <= 1]
    rails.append(
        AutoMLGuardrail(
            name="constant_columns",
            status="Done" if constant else "Passed",
            message=f"dropped {len(constant)} column(s) holding one value"
            if constant
            else "no column holds a single value",
            columns=constant,
        )
    )
    prep.drop.extend(constant)

    id_like, high = [], []
    for c in features.columns:
        if c in constant:
            continue
        col = features[c]
        distinct = col.nunique(dropna=True)
        textual = not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)
        if distinct == rows and rows > 1 and (textual or pd.api.types.is_integer_dtype(col)):
            id_like.append(c)
        elif textual and distinct > max(50, HIGH_CARDINALITY * rows):
            high.append(c)
    dropped = id_like + high
    parts = []
    if id_like:
        parts.append(f"ID-like (a distinct value on every row): {', '.join(id_like)}")
    if high:
        parts.append(f"high-cardinality text: {', '.join(high)}")
    rails.append(
        AutoMLGuardrail(
            name="high_cardinality",
            status="Done" if dropped else "Passed",
            message=f"dropped {'; '.join(parts)}"
            if dropped
            else "no ID-like or high-cardinality column",
            columns=dropped,
        )
    )
    prep.drop.extend(dropped)

    kept = features.drop(columns=prep.drop)
    missing = [c for c in kept.columns if kept[c].isna().any()]
    for c in missing:
        col = kept[c]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            prep.fill[c] = float(col.median())
        else:
            prep.fill[c] = col.mode(dropna=True).iloc[0] if col.notna().any() else ""
    rails.append(
        AutoMLGuardrail(
            name="missing_values",
            status="Done" if missing else "Passed",
            message=(
                f"imputed missing values in {len(missing)} column(s) (numbers: the median; "
                "others: the most frequent value)"
            )
            if missing
            else "no missing values",
            columns=missing,
        )
    )

    leaks = _leaking(kept, target, settings)
    rails.append(
        AutoMLGuardrail(
            name="target_leakage",
            status="Alerted" if leaks else "Passed",
            message=f"{', '.join(leaks)} alone predict(s) {settings.target!r} almost perfectly "
            f"(score >= {LEAK_SCORE} on held-out rows): a value known only after the fact? "
            "Drop it unless it is available when predicting"
            if leaks
            else "no single column predicts the target almost perfectly",
            columns=leaks,
        )
    )
    return rails, prep


def _leaking(features: Any, target: Any, settings: AutoMLSettings) -> list[str]:
    """Columns that alone predict the target on held-out rows (a shallow tree per column)."""
    import numpy as np
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    rows = len(target)
    if rows < 20:
        return []
    pick = np.random.default_rng(settings.seed).permutation(rows)[:LEAK_SAMPLE]
    half = len(pick) // 2
    y = target.iloc[pick].to_numpy()
    leaks = []
    for c in features.columns:
        col = features[c].iloc[pick]
        if pd.api.types.is_numeric_dtype(col) and not pd.api.types.is_bool_dtype(col):
            x = col.astype(float).fillna(col.median()).to_numpy().reshape(-1, 1)
        else:
            x = pd.factorize(col.astype(str))[0].reshape(-1, 1).astype(float)
        model = (
            DecisionTreeClassifier(max_depth=6, random_state=0)
            if settings.task == "classification"
            else DecisionTreeRegressor(max_depth=6, random_state=0)
        )
        model.fit(x[:half], y[:half])
        if model.score(x[half:], y[half:]) >= LEAK_SCORE:
            leaks.append(str(c))
    return leaks
