"""``%mlbench schedule ...`` and ``%mlbench notify ...`` in a real notebook kernel: the verbs of
``mlbench schedule``/``mlbench notify`` over ``ws.schedules``/``ws.notifications``; a schedule
made from the kernel's own notebook (as JupyterLab names it) and from a job that ran; a signed
webhook rule tested against a receiver in the kernel; one-line errors."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import test_magics
from tests.conftest import make_notebook
from tests.test_magics import assert_ok, error_lines, execute, text

home = test_magics.home

RECEIVER = """\
import hashlib, hmac, json, os, threading
from http.server import BaseHTTPRequestHandler, HTTPServer
got = []
class R(BaseHTTPRequestHandler):
    def do_POST(self):
        got.append((dict(self.headers), self.rfile.read(int(self.headers['Content-Length']))))
        self.send_response(200); self.end_headers()
    def log_message(self, *a): pass
srv = HTTPServer(('127.0.0.1', 0), R)
threading.Thread(target=srv.serve_forever, daemon=True).start()
port = srv.server_port
os.environ['HOOK_SECRET'] = 'magic-hook-secret-123'
"""
CHECK = """\
headers, body = got[0]
want = 'sha256=' + hmac.new(b'magic-hook-secret-123', body, hashlib.sha256).hexdigest()
ok = hmac.compare_digest(headers['X-Mlbench-Signature-256'], want)
print('SIGNED', ok, json.loads(body)['event'])
"""
BAD = {
    "%mlbench schedule": "%mlbench schedule: give a command",
    "%mlbench schedule create x --cron '0 2 * * *'": "this kernel does not know its notebook",
    "%mlbench schedule create x train.ipynb": "give the rule, --cron EXPR or --every UNIT",
    "%mlbench schedule create x train.ipynb --cron '61 * * * *'": "minute: 61 is outside 0-59",
    "%mlbench schedule show nope": "schedule 'nope' does not exist",
    "%mlbench schedule next": "give a schedule, or a rule with --cron or --every",
    "%mlbench notify add z --on job.failed --webhook http://127.0.0.1:9 --secret-env NOPE_UNSET": (
        "environment variable NOPE_UNSET is not set"
    ),
    "%mlbench notify add z --on job.failed": "give exactly one of --jupyterlab, --webhook",
}


@pytest.fixture
def stop_scheduler(home: Path) -> Iterator[None]:
    yield
    from mlbench import Workspace

    ws = Workspace(home)
    try:
        ws.schedules.scheduler().stop()
    finally:
        ws.close()


def test_schedule_and_notify_verbs(home: Path, tmp_path: Path, stop_scheduler: None) -> None:
    make_notebook(tmp_path / "train.ipynb", "print(epochs)", parameters="epochs = 3")
    cells = [
        "%load_ext mlbench",
        *BAD,
        "%mlbench schedule next --cron '30 2 * * *' --tz Europe/Berlin "
        "--after 2026-03-28T00:00 -n 3",
        # JupyterLab tells the kernel its notebook (relative to the server root)
        "__session__ = 'train.ipynb'\n"
        "%mlbench schedule create nightly --cron '0 2 * * *' --tz Europe/Berlin -p epochs 2 "
        "--missed run_once",
        "%mlbench schedule list",
        "%mlbench schedule next nightly -n 2 --after 2026-10-24T12:00",
        "%mlbench schedule pause nightly",
        "%mlbench schedule list --paused",
        "%mlbench schedule resume nightly",
        "j = %mlbench run train.ipynb -p epochs 1\n"
        "%mlbench schedule create from-job --job {j.id} --every '15 minute' --paused",
        "import mlbench\nws = mlbench.Workspace()\n"
        "print('SPEC', ws.schedules.info('from-job').action, ws.schedules.info('nightly').action)",
        "%mlbench schedule show nightly",
        "%mlbench schedule delete nightly\n%mlbench schedule delete from-job\n"
        "%mlbench schedule list",
        RECEIVER,
        "%mlbench notify add hook --on job.failed --on 'schedule.*' "
        "--webhook http://127.0.0.1:{port}/hook --secret-env HOOK_SECRET",
        "%mlbench notify list",
        "%mlbench notify test hook",
        CHECK,
        "%mlbench notify show hook",
        "%mlbench notify log hook",
        "%mlbench notify delete hook\n%mlbench notify list",
    ]
    nb = execute(cells, tmp_path)
    bad = nb.cells[1 : 1 + len(BAD)]
    for cell, expected in zip(bad, BAD.values(), strict=True):
        lines = error_lines(cell)
        assert len(lines) == 1 and lines[0].startswith("UsageError: "), (cell.source, lines)
        assert expected in lines[0], (cell.source, lines)
    ok = nb.cells[1 + len(BAD) :]
    for cell in [nb.cells[0], *ok]:
        assert_ok(cell)
    out = [text(c) for c in ok]
    (
        preview,
        created,
        listed,
        nxt,
        paused,
        listed_paused,
        resumed,
        from_job,
        specs,
        shown,
        deleted,
        _receiver,
        added,
        rules,
        tested,
        signed,
        rule,
        log,
        rule_deleted,
    ) = out

    # the rule checked without a schedule: the spring-forward gap fires at the jump
    assert "2026-03-29T03:00:00+02:00" in preview and "2026-03-28T02:30:00+01:00" in preview
    # from the kernel's notebook, in words, next run in Berlin
    assert "Schedule nightly" in created and "job train.ipynb" in created, created
    assert "cron '0 2 * * *' (Europe/Berlin)" in created and "run_once" in created
    assert re.search(r"nightly +enabled", listed), listed
    # the next runs in the zone: 02:00 happens twice the night clocks go back; it runs once
    assert "2026-10-25T02:00:00+02:00" in nxt and "2026-10-26T02:00:00+01:00" in nxt, nxt
    assert "2026-10-25T02:00:00+01:00" not in nxt
    assert "paused" in paused and re.search(r"nightly +paused", listed_paused)
    assert "enabled" in resumed
    assert "Schedule from-job" in from_job and "every 15 minutes (UTC)" in from_job, from_job
    assert "paused" in from_job
    # the job's spec (its notebook and parameters), the nightly one's typed parameter
    assert "'parameters': {'epochs': 1}" in specs and "'parameters': {'epochs': 2}" in specs, specs
    assert str(tmp_path / "train.ipynb") in specs
    assert "last runs" in shown and "none yet" in shown
    assert "schedule nightly deleted" in deleted and "no schedules" in deleted

    # the rule: its secret by name only, never its value
    assert "hook" in added and "secret" in added and "magic-hook-secret-123" not in added
    assert re.search(r"hook +enabled +webhook", rules) and "magic-hook-secret-123" not in rules
    assert "delivered" in tested
    assert "SIGNED True test" in signed
    assert "deliveries (1)" in rule and "test delivered after 1 attempt" in rule, rule
    assert "delivered" in log
    assert "notification rule hook deleted" in rule_deleted and "no notification rules" in (
        rule_deleted
    )
