"""The report as one static HTML page: inline CSS, bars drawn with CSS widths, no script, no
server. Only summaries appear (metrics, group rates, cohort rules and sizes), never rows."""

from __future__ import annotations

from html import escape
from typing import Any

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:24px;color:#1f2328;background:#fff}
@media (prefers-color-scheme:dark){body{color:#e6edf3;background:#0d1117}
 table td,table th{border-color:#30363d}.bar{background:#1f6feb}}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border-bottom:1px solid #d0d7de;
 padding:3px 10px;text-align:left}td.n{text-align:right;font-variant-numeric:tabular-nums}
.bar{display:inline-block;height:10px;background:#0969da;vertical-align:middle}
.note{color:#8b949e}
"""


def _n(value: Any, digits: int = 4) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}g}"
    return escape(str(value))


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(rows_i) + "</tr>" for rows_i in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(value: Any, numeric: bool = False) -> str:
    return f'<td class="n">{_n(value)}</td>' if numeric else f"<td>{_n(value)}</td>"


def _bar(share: float | None, width: int = 120) -> str:
    px = int(max(0.0, min(1.0, share or 0.0)) * width)
    return f'<td><span class="bar" style="width:{px}px"></span></td>'


def render(report: dict[str, Any]) -> str:
    parts = [
        f"<h1>Responsible AI report: {escape(str(report.get('model', '')))}</h1>",
        f"<p>Data {escape(str(report.get('data', '')))}: {report['rows']} rows; target "
        f"<b>{escape(report['target'])}</b> ({escape(report['task'])}"
        + (
            f", positive label {escape(report['positive_label'])}"
            if report["positive_label"]
            else ""
        )
        + f"). Error: {escape(report['error_definition'])}, rate {report['error_rate']:.3f}.</p>",
        "<h2>Metrics (95 % bootstrap intervals)</h2>",
        _table(
            ["metric", "value", "low", "high"],
            [
                [_td(m["metric"]), _td(m["value"], True), _td(m["low"], True), _td(m["high"], True)]
                for m in report["metrics"]
            ],
        ),
    ]
    parts.append("<h2>Fairness</h2>")
    if not report["fairness"]:
        parts.append('<p class="note">No sensitive feature given.</p>')
    for f in report["fairness"]:
        diffs = {k: v for k, v in f.items() if k.endswith("_difference")}
        parts.append(
            f"<h3>{escape(f['feature'])}</h3><p>"
            + "; ".join(f"{escape(k.replace('_', ' '))}: <b>{_n(v)}</b>" for k, v in diffs.items())
            + "</p>"
        )
        keys = [k for k in f["by_group"][0] if k != "group"] if f["by_group"] else []
        parts.append(
            _table(
                ["group", *keys],
                [[_td(g["group"]), *(_td(g[k], True) for k in keys)] for g in f["by_group"]],
            )
        )
    parts.append(
        "<h2>Error cohorts</h2><p>Leaves of a shallow decision tree fit on the error "
        "indicator, highest error rate first.</p>"
    )
    parts.append(
        _table(
            ["cohort", "rows", "errors", "error rate", "", "share of errors"],
            [
                [
                    _td(c["rule"]),
                    _td(c["size"], True),
                    _td(c["errors"], True),
                    _td(c["error_rate"], True),
                    _bar(c["error_rate"]),
                    _td(c["error_share"], True),
                ]
                for c in report["cohorts"]
            ],
        )
    )
    imp = report["importance"]
    top = imp["permutation"][:20]
    scale = max((r["mean"] or 0 for r in top), default=0) or 1
    parts.append(
        f"<h2>Feature importance</h2><p>Permutation importance: the {escape(imp['scoring'])}"
        " lost when the column is shuffled.</p>"
    )
    parts.append(
        _table(
            ["feature", "mean", "std", ""],
            [
                [
                    _td(r["feature"]),
                    _td(r["mean"], True),
                    _td(r["std"], True),
                    _bar((r["mean"] or 0) / scale),
                ]
                for r in top
            ],
        )
    )
    if imp.get("shap"):
        parts.append("<p>SHAP: mean |value| per feature.</p>")
        parts.append(
            _table(
                ["feature", "mean |SHAP|"],
                [[_td(r["feature"]), _td(r["mean_abs"], True)] for r in imp["shap"][:20]],
            )
        )
    elif imp.get("shap_note"):
        parts.append(f'<p class="note">{escape(imp["shap_note"])}</p>')
    cf = report["counterfactuals"]
    parts.append("<h2>Counterfactuals</h2>")
    if cf.get("note"):
        parts.append(f'<p class="note">{escape(cf["note"])}</p>')
    for i, ex in enumerate(cf.get("examples") or []):
        parts.append(
            f"<p>Misclassified row {i + 1}: {ex['counterfactuals']} counterfactual(s), "
            f"changing {escape(', '.join(ex['changed']) or 'nothing')}.</p>"
        )
    body = "\n".join(parts)
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>Responsible AI report</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
