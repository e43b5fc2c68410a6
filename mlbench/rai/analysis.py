"""The computations of a Responsible AI report, on a model's predictions for a test table.

Pure functions over pandas/numpy (run inside the report notebook's kernel): metrics with
bootstrap confidence intervals, fairness by sensitive feature with fairlearn's ``MetricFrame``,
error cohorts from a shallow decision tree on the error indicator, permutation importance (and
SHAP values when shap is installed), counterfactual examples when dice-ml is installed. Every
result is a small JSON-able summary: no raw rows leave this module.
"""

from __future__ import annotations

import importlib.util
import math
from collections.abc import Callable
from typing import Any

BOOTSTRAP = 200
MAX_COHORTS = 12
IMPORTANCE_ROWS = 2000


def _f(value: Any) -> float | None:
    number = float(value)
    return number if math.isfinite(number) else None


def metric_functions(
    task: str, labels: list[Any], positive: Any
) -> dict[str, Callable[..., float]]:
    from sklearn import metrics as m

    if task == "regression":
        return {
            "r2": m.r2_score,
            "mae": m.mean_absolute_error,
            "rmse": lambda y, p: math.sqrt(m.mean_squared_error(y, p)),
        }
    if len(labels) == 2:
        kw: dict[str, Any] = {"pos_label": positive, "zero_division": 0}
        return {
            "accuracy": m.accuracy_score,
            "precision": lambda y, p: m.precision_score(y, p, **kw),
            "recall": lambda y, p: m.recall_score(y, p, **kw),
            "f1": lambda y, p: m.f1_score(y, p, **kw),
        }
    macro: dict[str, Any] = {"average": "macro", "zero_division": 0, "labels": labels}
    return {
        "accuracy": m.accuracy_score,
        "macro_precision": lambda y, p: m.precision_score(y, p, **macro),
        "macro_recall": lambda y, p: m.recall_score(y, p, **macro),
        "macro_f1": lambda y, p: m.f1_score(y, p, **macro),
    }


def metrics_with_ci(
    y: Any,
    pred: Any,
    functions: dict[str, Callable[..., float]],
    *,
    n: int = BOOTSTRAP,
    seed: int = 0,
    level: float = 0.95,
) -> list[dict[str, Any]]:
    """Each metric on the whole table and its percentile bootstrap interval (rows resampled)."""
    import numpy as np

    y, pred = np.asarray(y), np.asarray(pred)
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(y), len(y)) for _ in range(n)]
    out = []
    for name, fn in functions.items():
        values = np.array([fn(y[d], pred[d]) for d in draws], dtype=float)
        low, high = np.nanquantile(values, [(1 - level) / 2, (1 + level) / 2])
        out.append(
            {
                "metric": name,
                "value": _f(fn(y, pred)),
                "low": _f(low),
                "high": _f(high),
                "level": level,
                "resamples": n,
            }
        )
    return out


def fairness(
    y: Any, pred: Any, sensitive: Any, *, task: str, positive: Any = None
) -> list[dict[str, Any]]:
    """Per sensitive feature: the metrics by group (fairlearn ``MetricFrame``) and the
    differences. Binary classification: selection rate, TPR, FPR, demographic-parity and
    equalized-odds differences; otherwise the main metric by group and its spread."""
    import numpy as np
    from fairlearn.metrics import (
        MetricFrame,
        count,
        demographic_parity_difference,
        equalized_odds_difference,
        false_positive_rate,
        selection_rate,
        true_positive_rate,
    )
    from sklearn.metrics import accuracy_score, mean_absolute_error

    y, pred = np.asarray(y), np.asarray(pred)
    out = []
    for column in sensitive.columns:
        groups = sensitive[column].astype(str).to_numpy()
        if task == "classification" and positive is not None:
            yb, pb = (y == positive).astype(int), (pred == positive).astype(int)
            frame = MetricFrame(
                metrics={
                    "count": count,
                    "accuracy": accuracy_score,
                    "selection_rate": selection_rate,
                    "tpr": true_positive_rate,
                    "fpr": false_positive_rate,
                },
                y_true=yb,
                y_pred=pb,
                sensitive_features=groups,
            )
            differences = {
                "demographic_parity_difference": _f(
                    demographic_parity_difference(yb, pb, sensitive_features=groups)
                ),
                "equalized_odds_difference": _f(
                    equalized_odds_difference(yb, pb, sensitive_features=groups)
                ),
                "accuracy_difference": _f(frame.difference()["accuracy"]),
            }
        else:
            main = accuracy_score if task == "classification" else mean_absolute_error
            name = "accuracy" if task == "classification" else "mae"
            frame = MetricFrame(
                metrics={"count": count, name: main},
                y_true=y,
                y_pred=pred,
                sensitive_features=groups,
            )
            differences = {f"{name}_difference": _f(frame.difference()[name])}
        by_group = [
            {"group": str(g), **{k: _f(v) for k, v in row.items()}}
            for g, row in frame.by_group.iterrows()
        ]
        out.append({"feature": str(column), "by_group": by_group, **differences})
    return out


def error_cohorts(
    X: Any, errors: Any, *, max_depth: int = 3, min_share: float = 0.02
) -> list[dict[str, Any]]:
    """Cohorts where the model errs: the leaves of a shallow tree fit on the error indicator,
    each with its rule, size and error rate, ranked by error rate and then size."""
    import numpy as np
    import pandas as pd
    from sklearn.tree import DecisionTreeClassifier

    errors = np.asarray(errors).astype(int)
    encoded = _encode(X)
    tree = DecisionTreeClassifier(
        max_depth=max_depth,
        min_samples_leaf=max(5, int(min_share * len(errors))),
        random_state=0,
    ).fit(encoded.to_numpy(dtype=float), errors)
    leaves = tree.apply(encoded.to_numpy(dtype=float))
    total_errors = max(1, int(errors.sum()))
    cohorts = []
    for leaf in np.unique(leaves):
        members = leaves == leaf
        size = int(members.sum())
        wrong = int(errors[members].sum())
        cohorts.append(
            {
                "rule": " and ".join(_path(tree, leaf, list(encoded.columns))) or "all rows",
                "size": size,
                "errors": wrong,
                "error_rate": wrong / size,
                "error_share": wrong / total_errors,
            }
        )
    cohorts.sort(key=lambda c: (-c["error_rate"], -c["size"]))
    overall = float(errors.mean()) if len(errors) else 0.0
    for c in cohorts:
        c["lift"] = c["error_rate"] / overall if overall else None
    del pd
    return cohorts[:MAX_COHORTS]


def _encode(X: Any) -> Any:
    """Numbers as they are, other columns one-hot (``color=red``) so rules read as values."""
    import pandas as pd

    numeric = X.select_dtypes(include="number").astype(float)
    numeric = numeric.fillna(numeric.median())
    other = X.drop(columns=numeric.columns)
    if other.shape[1]:
        dummies = pd.get_dummies(other.astype(str), prefix_sep="=").astype(float)
        return pd.concat([numeric, dummies], axis=1)
    return numeric


def _path(tree: Any, leaf: int, names: list[str]) -> list[str]:
    """The conditions from the root to ``leaf``."""
    t = tree.tree_
    parent: dict[int, tuple[int, bool]] = {}
    for node in range(t.node_count):
        if t.children_left[node] != -1:
            parent[t.children_left[node]] = (node, True)
            parent[t.children_right[node]] = (node, False)
    steps = []
    node = leaf
    while node in parent:
        up, left = parent[node]
        name, cut = names[t.feature[up]], float(t.threshold[up])
        if "=" in name and cut == 0.5:  # a one-hot column: equal or not
            column, value = name.split("=", 1)
            steps.append(f"{column} {'!=' if left else '=='} {value}")
        else:
            steps.append(f"{name} {'<=' if left else '>'} {cut:.4g}")
        node = up
    return steps[::-1]


class _Predictor:
    """A fitted model as scikit-learn's scorers expect one."""

    def __init__(self, predict: Callable[[Any], Any]) -> None:
        self.predict = predict

    def fit(self, X: Any, y: Any = None) -> _Predictor:
        return self


def importance(
    predict: Callable[[Any], Any], X: Any, y: Any, *, task: str, repeats: int = 5, seed: int = 0
) -> dict[str, Any]:
    """Permutation importance (the score lost when a column is shuffled); SHAP's mean |value|
    per column too when shap is installed."""
    from sklearn.inspection import permutation_importance
    from sklearn.metrics import accuracy_score, r2_score

    rows = X.sample(min(len(X), IMPORTANCE_ROWS), random_state=seed) if len(X) else X
    ys = y.loc[rows.index]
    scoring = "accuracy" if task == "classification" else "r2"
    metric = accuracy_score if task == "classification" else r2_score
    result = permutation_importance(
        _Predictor(predict),
        rows,
        ys,
        scoring=lambda model, X, y: metric(y, model.predict(X)),
        n_repeats=repeats,
        random_state=seed,
    )
    ranked = sorted(
        (
            {"feature": str(c), "mean": _f(m), "std": _f(s)}
            for c, m, s in zip(
                X.columns, result.importances_mean, result.importances_std, strict=True
            )
        ),
        key=lambda r: -(r["mean"] or 0),
    )
    out: dict[str, Any] = {"scoring": scoring, "permutation": ranked, "shap": None}
    if importlib.util.find_spec("shap") is None:
        out["shap_note"] = "shap is not installed (pip install shap): SHAP values left out"
    else:
        out["shap"] = _shap(predict, rows.head(200), task)
    return out


def _shap(predict: Callable[[Any], Any], rows: Any, task: str) -> list[dict[str, Any]]:
    import numpy as np
    import shap

    def numeric_predict(data: Any) -> Any:
        import pandas as pd

        return np.asarray(predict(pd.DataFrame(data, columns=rows.columns)), dtype=float)

    explainer = shap.Explainer(numeric_predict, rows.head(50))
    values = explainer(rows.head(100)).values
    means = np.abs(values).mean(axis=0)
    del task
    return sorted(
        ({"feature": str(c), "mean_abs": _f(v)} for c, v in zip(rows.columns, means, strict=True)),
        key=lambda r: -(r["mean_abs"] or 0),
    )


def counterfactuals(
    model: Any, X: Any, y: Any, *, task: str, target: str, wrong: Any, count: int = 3
) -> dict[str, Any]:
    """A few counterfactual examples (DiCE) for misclassified rows, when dice-ml is installed."""
    if importlib.util.find_spec("dice_ml") is None:
        return {
            "available": False,
            "note": "dice-ml is not installed (pip install dice-ml): "
            "counterfactual examples left out",
        }
    import dice_ml

    frame = X.assign(**{target: y})
    numeric = list(X.select_dtypes(include="number").columns)
    data = dice_ml.Data(dataframe=frame, continuous_features=numeric, outcome_name=target)
    kind = "classifier" if task == "classification" else "regressor"
    explainer = dice_ml.Dice(
        data, dice_ml.Model(model=model, backend="sklearn", model_type=kind), method="random"
    )
    queries = X[wrong].head(count)
    if not len(queries):
        return {"available": True, "examples": [], "note": "no misclassified row to explain"}
    try:
        result = explainer.generate_counterfactuals(queries, total_CFs=2, desired_class="opposite")
    except Exception as exc:  # DiCE cannot explain every model; the rest of the report stands
        return {"available": True, "examples": [], "note": f"DiCE failed: {exc}"[:300]}
    examples = []  # which columns change the outcome, not the rows themselves
    for cf in result.cf_examples_list:
        query = cf.test_instance_df.iloc[0]
        changed = {
            str(c) for _, row in cf.final_cfs_df.iterrows() for c in X.columns if row[c] != query[c]
        }
        examples.append({"counterfactuals": len(cf.final_cfs_df), "changed": sorted(changed)})
    return {"available": True, "examples": examples}


def build(
    model: Any,
    frame: Any,
    *,
    target: str,
    task: str,
    sensitive: list[str],
    positive: Any = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The whole report of ``model`` (anything with ``predict``) on ``frame``."""
    import numpy as np

    frame = frame[frame[target].notna()].reset_index(drop=True)
    X, y = frame.drop(columns=[target]), frame[target]
    pred = np.asarray(model.predict(X)).ravel()
    labels = (
        sorted(set(y.tolist()) | set(pred.tolist()), key=str) if task == "classification" else []
    )
    if task == "classification" and positive is None and len(labels) == 2:
        positive = labels[1]
    if task == "classification":
        wrong = pred != y.to_numpy()
    else:
        residual = np.abs(pred - y.to_numpy(dtype=float))
        wrong = residual > np.quantile(residual, 0.9)  # the worst tenth counts as an error
    report: dict[str, Any] = {
        "target": target,
        "task": task,
        "rows": len(frame),
        "positive_label": None if positive is None else str(positive),
        "error_definition": "misclassified"
        if task == "classification"
        else "absolute error in the worst 10 %",
        "error_rate": float(np.mean(wrong)),
        "metrics": metrics_with_ci(y, pred, metric_functions(task, labels, positive), seed=seed),
        "fairness": fairness(y, pred, frame[sensitive], task=task, positive=positive)
        if sensitive
        else [],
        "cohorts": error_cohorts(X, wrong),
        "importance": importance(model.predict, X, y, task=task, seed=seed),
        "counterfactuals": counterfactuals(model, X, y, task=task, target=target, wrong=wrong),
    }
    return report
