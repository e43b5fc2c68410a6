"""The pipeline graph widget against a real workspace, agent and kernels (ipywidgets runs without
a front end, so the state a front end would render is asserted: the traits, the SVG graph, the
step table and the static reprs)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from mlbench.widgets.pipeline import NODE_H, NODE_W, PipelineWidget, layout
from tests.test_jobs import WAIT, wait_for
from tests.test_pipelines import _diamond

SVG = "{http://www.w3.org/2000/svg}"


def _graph(widget: PipelineWidget) -> dict[str, str]:
    """Step -> status as the graph draws it (the SVG parses as XML)."""
    root = ET.fromstring(widget._graph.value)
    return {
        g.attrib["data-step"]: g.attrib["data-status"]
        for g in root.iter(f"{SVG}g")
        if "data-step" in g.attrib
    }


def _edges(widget: PipelineWidget) -> set[tuple[str, str]]:
    root = ET.fromstring(widget._graph.value)
    return {
        (p.attrib["data-from"], p.attrib["data-to"])
        for p in root.iter(f"{SVG}path")
        if "data-from" in p.attrib
    }


def test_layout_puts_steps_in_layers_left_to_right_without_overlap() -> None:
    boxes = layout([("prep", []), ("a", ["prep"]), ("b", ["prep", "ghost"]), ("join", ["a", "b"])])
    assert {n: b.layer for n, b in boxes.items()} == {"prep": 0, "a": 1, "b": 1, "join": 2}
    for p in boxes.values():
        for q in boxes.values():
            if p is not q:
                assert abs(p.x - q.x) >= NODE_W or abs(p.y - q.y) >= NODE_H
    assert boxes["prep"].y == (boxes["a"].y + boxes["b"].y) / 2  # centred on its column
    # p1 -> q2 and p2 -> q1 in the given order would cross: the columns are reordered
    crossed = layout([("p1", []), ("p2", []), ("q1", ["p2"]), ("q2", ["p1"])])
    rows = {n: b.row for n, b in crossed.items()}
    assert (rows["p1"] < rows["p2"]) == (rows["q2"] < rows["q1"])
    # a cycle (refused at submission) cannot hang the drawing
    assert set(layout([("x", ["y"]), ("y", ["x"])])) == {"x", "y"}


@pytest.mark.slow
def test_widget_follows_a_run_then_marks_the_reused_steps(module_ws: Any, tmp_path: Path) -> None:
    body = _diamond(tmp_path)
    body["inputs"]["pause"] = 1.0
    run = module_ws.pipelines.run(body)
    widget = PipelineWidget(run.id, module_ws, poll_interval=0.05)
    seen: dict[str, list[str]] = {}

    def note(change: dict[str, Any]) -> None:
        for step, status in change["new"].items():
            if not seen.setdefault(step, []) or seen[step][-1] != status:
                seen[step].append(status)

    widget.observe(note, names="step_status")
    wait_for(lambda: widget.finished, timeout=WAIT)
    assert widget.status == "completed" and widget.done == 4 and widget.reused == 0
    # live: the graph showed a step running before it completed
    assert "running" in seen["a"] and seen["a"][-1] == "completed", seen
    assert _graph(widget) == dict.fromkeys(("prep", "a", "b", "join"), "completed")
    assert _edges(widget) == {("prep", "a"), ("prep", "b"), ("a", "join"), ("b", "join")}
    assert widget._cancel.layout.display == "none"
    assert "4/4 steps done" in widget._header.value

    # the same run again: every step reused, and the graph, table and reprs say so
    again = module_ws.pipelines.run(body)
    view = PipelineWidget(again.id, module_ws, live=False).wait(WAIT)
    assert view.status == "completed" and view.reused == 4
    assert set(_graph(view).values()) == {"reused"}
    assert view._graph.value.count("↺ reused") == 4
    assert f"from run {run.id}" in view._table.value
    text = view._static_text()
    assert f"pipeline diamond ({again.id}): completed" in text
    assert "4/4 steps done · 4 reused" in text
    assert "<svg" in view._static_html()


@pytest.mark.slow
def test_cancel_button_stops_the_run(module_ws: Any, tmp_path: Path) -> None:
    body = _diamond(tmp_path)
    body["inputs"]["pause"] = 60.0
    widget = PipelineWidget(module_ws.pipelines.run(body).id, module_ws, poll_interval=0.05)
    wait_for(lambda: widget.step_status.get("a") == "running", timeout=WAIT)
    assert _graph(widget)["a"] == "running" and widget._cancel.layout.display != "none"
    widget._cancel.click()
    wait_for(lambda: widget.finished, timeout=WAIT)
    assert widget.status == "canceled"
    assert widget.step_status["a"] == "canceled" and widget.step_status["join"] == "skipped"
    widget.close()
