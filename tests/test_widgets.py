"""The widgets against a real workspace, agent, kernels and MLflow store (no browser needed:
ipywidgets runs without a front end, so the state a front end would render is asserted)."""

from __future__ import annotations

import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import nbformat
import pytest

from mlbench.widgets import JobsTable, JobWidget, RunComparisonChart, TableView
from mlbench.widgets.svg import Series, line_chart

WAIT = 120  # bounds that only catch hangs; not speed assertions
ORDER = ["queued", "starting", "running", "completed"]


def wait_for(predicate: Any, timeout: float = WAIT) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def is_subsequence(seen: list[str], order: list[str]) -> bool:
    positions = [order.index(s) for s in seen]
    return positions == sorted(set(positions))


@pytest.fixture(scope="module")
def training(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from tests.conftest import make_notebook

    return make_notebook(
        tmp_path_factory.mktemp("nb") / "train.ipynb",
        "import time, mlbench\nprint('training starts')",
        "for i in range(epochs):\n"
        "    mlbench.log_metric('loss', 1.0 / (i + 1))\n"
        "    mlbench.log_metric('acc', i / epochs)\n"
        "    print('epoch', i)\n"
        "    time.sleep(0.25)",
        "print('done')",
        parameters="epochs = 4",
    )


def test_job_widget_follows_a_job_from_queued_to_completed(module_ws: Any, training: Path) -> None:
    job = module_ws.jobs.submit(training, {"epochs": 6}, start_agent=False)
    widget = JobWidget(job, module_ws, poll_interval=0.05)
    seen: list[str] = []
    widget.observe(lambda change: seen.append(change["new"]), names="status")
    # queued: nothing runs yet, every part of the view says so
    assert widget.status == "queued" and widget.history == ["queued"]
    assert widget._bar.value == 0 and widget._bar.bar_style == ""
    assert not widget.cancel_button.disabled and not widget.finished
    assert "waiting to start" in widget._bar_label.value
    assert "queued" in widget._static_text() and "mlbench-queued" in widget._static_html()
    assert widget._thread is not None and widget._thread.is_alive()

    module_ws.jobs.agent("local").ensure_running()
    wait_for(lambda: widget.finished)

    assert widget.status == "completed"
    history = widget.history
    assert history[0] == "queued" and history[-1] == "completed"
    assert is_subsequence(history, ORDER) and "running" in history, history
    assert seen == history[1:]  # traits fired once per transition, in order
    # progress: every cell done; the bar and label agree with the job record
    info = widget.info
    assert info.progress.cell_count == widget.cell_count == 4  # params + 3 (injected not counted)
    assert widget._bar.max == widget._bar.value == 4 and widget._bar.bar_style == "success"
    assert "4/4 cells" in widget._bar_label.value
    # metrics arrived from the job's MLflow run and are plotted
    assert widget.metric_values["loss"] == pytest.approx(1 / 6)
    assert widget.metric_values["acc"] == pytest.approx(5 / 6)
    assert widget._metrics_html.value.count("<svg") == 2
    assert "loss = 0.1667 (step 5)" in widget._metrics_html.value
    # the live output tail has the cells' prints, the error box is empty
    assert "training starts" in widget.log_tail and "epoch 5" in widget.log_tail
    assert widget._error_html.value == ""
    # live updates stopped; the cancel button is off; the static reprs tell the final state
    widget._thread.join(5)
    assert not widget._thread.is_alive()
    assert widget.cancel_button.disabled
    text = widget._static_text()
    assert text.startswith(f"mlbench job {job.id} (train) completed on local — 4/4 cells")
    assert "loss=0.1667" in text
    html = widget._static_html()
    assert "mlbench-completed" in html and "<svg" in html and "epoch 5" in html
    bundle = widget._repr_mimebundle_()
    assert {"text/plain", "text/html", "application/vnd.jupyter.widget-view+json"} <= set(bundle)
    widget.close()


def test_job_widget_shows_a_failed_job(module_ws: Any, notebook: Any) -> None:
    nb = notebook("x = 1", "raise ValueError('bad value ' + str(x))", "print('never')")
    job = module_ws.jobs.submit(nb)
    widget = JobWidget(job, module_ws, live=False)
    widget.wait(WAIT)
    assert widget.status == "failed" and widget.finished
    assert widget.history[-1] == "failed" and is_subsequence(widget.history, [*ORDER[:3], "failed"])
    assert widget._bar.bar_style == "danger"
    assert widget._bar.value == 1  # the cell before the failing one completed
    assert "stopped at cell 2/3" in widget._bar_label.value
    assert "cell_error" in widget._error_html.value and "ValueError" in widget._error_html.value
    assert "bad value 1" in widget._error_html.value
    assert widget.cancel_button.disabled
    text = widget._static_text()
    assert (
        f"{job.id} (nb) failed" in text
        and "cell_error in cell 2/3: ValueError: bad value 1" in text
    )


def test_cancel_button_and_open_output(module_ws: Any, notebook: Any, tmp_path: Path) -> None:
    slow = notebook("import time\ntime.sleep(60)", name="slow.ipynb")
    job = module_ws.jobs.submit(slow, start_agent=False)
    widget = JobWidget(job, module_ws, live=False)
    # no output before it runs: a message, not an exception
    assert widget.open_output(tmp_path) is None
    assert "no output notebook yet" in widget._message.value
    widget.cancel_button.click()
    assert widget.status == "canceled" and widget.finished
    assert "canceled" in widget._message.value and widget._bar.bar_style == "warning"
    # clicking again after the end says why nothing happens
    widget.cancel()
    assert "already canceled" in widget._message.value

    done = module_ws.jobs.submit(notebook("print('out')", name="quick.ipynb")).wait(WAIT)
    view = JobWidget(done, module_ws, live=False)
    copied = view.open_output(tmp_path)
    assert copied == tmp_path / f"quick-{done.id[:8]}.output.ipynb"
    out = nbformat.read(copied, as_version=4)
    assert any("out" in o.get("text", "") for c in out.cells for o in c.get("outputs", []))
    (link,) = view._link.outputs  # rendered by JupyterLab, which opens the link in a tab
    assert f'<a href="{copied.as_uri()}"' in link["data"]["text/html"]  # (not under the cwd)
    assert view._message.value.endswith("output:</span>")


def test_output_tail_is_bounded_and_shows_lines_as_a_terminal_would(
    module_ws: Any, notebook: Any
) -> None:
    job = module_ws.jobs.submit(notebook("pass", name="quiet.ipynb"), start_agent=False)
    widget = JobWidget(job, module_ws, live=False, log_lines=5)
    log = module_ws.paths.log(job.id)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a") as f:  # what the agent appends as cells print
        f.write("start\n\x1b[31mred\x1b[0m\nprogress 10%\rprogress 50%\rprogress 100%\npart")
    widget.refresh()
    assert widget.log_tail.splitlines() == ["start", "red", "progress 100%", "part"]
    with open(log, "a") as f:  # a line completed, then far more output than one view holds
        f.write("ial\n" + "".join(f"line {i}\n" for i in range(20_000)) + "last")
    widget.refresh()
    assert widget.log_tail.splitlines() == [f"line {i}" for i in range(19_996, 20_000)] + ["last"]
    assert widget._log_html.value.count("\n") == 4  # the newest 5 lines, no scrolling needed
    widget.cancel()


def test_jobs_table_lists_refreshes_and_opens_a_job(module_ws: Any, notebook: Any) -> None:
    nb = notebook("import time\ntime.sleep(1.0)", name="table.ipynb")
    job = module_ws.jobs.submit(nb, experiment="table-test")
    table = JobsTable(module_ws, experiment="table-test", interval=0.1)
    assert [r["id"] for r in table.rows] == [job.id]
    assert table.rows[0]["status"] in ("queued", "starting", "running")
    assert table._thread is not None  # live while a job is active
    wait_for(lambda: table.rows[0]["status"] == "completed")
    table._thread.join(5)
    assert not table._thread.is_alive()  # stopped by itself once every job ended
    row = table.rows[0]
    assert row["name"] == "table" and row["progress"] == "1/1" and row["compute"] == "local"
    text = table._static_text()
    assert text.splitlines()[0].split() == [
        "id",
        "name",
        "status",
        "progress",
        "duration",
        "compute",
        "experiment",
        "created",
    ]
    assert job.id in text and "completed" in text and text.endswith("1 job")
    assert "mlbench-completed" in table._static_html()
    # picking a job shows its widget below the table
    table.picker.value = table.picker.options[1]
    (detail,) = table.detail.children
    assert isinstance(detail, JobWidget) and detail.id == job.id and detail.finished
    # filters go to the SDK; an empty result reads as such
    empty = JobsTable(module_ws, experiment="no-such-experiment", live=False)
    assert empty.rows == [] and empty._static_text() == "no jobs match"
    table.close()


def test_run_comparison_chart(module_ws: Any, training: Path) -> None:
    a = module_ws.jobs.submit(training, {"epochs": 3}, experiment="cmp").wait(WAIT)
    b = module_ws.jobs.submit(training, {"epochs": 5}, experiment="cmp").wait(WAIT)
    assert a.status.value == b.status.value == "completed"
    chart = RunComparisonChart([a, b.id], module_ws, metrics=["loss"])
    assert chart.run_ids == [a.run_id, b.run_id]  # a Job, a job id: both resolved to runs
    assert chart.metrics == ["loss"] and chart.picker not in chart.children
    (svg,) = [chart._chart.value]
    ET.fromstring(svg)  # well-formed SVG
    assert svg.count("<polyline") == 2
    tables = chart._tables.value
    assert "parameters that differ" in tables and "epochs" in tables
    assert "▼" in tables  # the lowest latest loss is marked
    text = chart._static_text()
    assert text.startswith("Comparing 2 runs") and "param epochs: " in text
    # every metric by default, one at a time in the drop-down
    both = RunComparisonChart([a.run_id, b.run_id], module_ws)
    assert both.metrics == ["acc", "loss"] and both.picker in both.children
    both.picker.value = "acc"
    assert ">acc</text>" in both._chart.value
    with pytest.raises(Exception, match="no run logged metric"):
        RunComparisonChart([a.run_id], module_ws, metrics=["nope"])
    with pytest.raises(Exception, match="neither an MLflow run id nor a job id"):
        RunComparisonChart(["zzzz-not-a-run"], module_ws)


def test_line_chart_draws_gaps_points_and_empty_series() -> None:
    svg = line_chart(
        [
            Series("a", [0, 1, 2, 3, 4], [1.0, 2.0, None, 3.0, 4.0]),
            Series("b", [0], [5.0]),
            Series("c", [0, 1], [float("nan"), float("inf")]),
        ],
        title="t <&>",
    )
    root = ET.fromstring(svg)
    ns = "{http://www.w3.org/2000/svg}"
    assert len(root.findall(f"{ns}polyline")) == 2  # the gap splits series a
    assert len(root.findall(f"{ns}circle")) == 1  # b's single point
    assert "t &lt;&amp;&gt;" in svg  # titles are escaped
    texts = [t.text for t in root.iter(f"{ns}text")]
    assert {"a", "b", "c"} <= set(texts)  # legend of several series
    empty = line_chart([Series("x", [], [])], title="nothing")
    assert "no points yet" in empty
    ET.fromstring(empty)
    flat = line_chart([Series("x", [0, 1, 2], [2.0, 2.0, 2.0])])
    ET.fromstring(flat)
    assert "<polyline" in flat


def test_table_view_reprs() -> None:
    view = TableView(["name", "value"], [["a", 1.23456], ["b", None]], title="T", note="n")
    assert view.rows == [{"name": "a", "value": 1.23456}, {"name": "b", "value": None}]
    assert repr(view).splitlines() == ["T", "name  value", "a     1.235", "b     -", "n"]
    assert "<table" in view._repr_html_() and len(view) == 2
    assert "nothing to show" in repr(TableView(["x"], []))
