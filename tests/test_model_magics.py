"""``%mlbench model ...`` in a real notebook: the verbs of ``mlbench model`` over ``ws.models``,
batch scoring with a real agent and job."""

from __future__ import annotations

from pathlib import Path

from tests import test_magics
from tests.test_magics import assert_ok, error_lines, execute, text

home = test_magics.home
IRIS = Path(__file__).resolve().parents[1] / "examples" / "data" / "iris.csv"

BAD = {
    "%mlbench model": "%mlbench model: give a command",
    "%mlbench model show nope:1": "nope:1 does not exist",
    "%mlbench model register x": "one of: a job, a run or a local model folder",
    "%mlbench model score m --data data:nowhere --output data:o": "nowhere",
}


def test_model_verbs_in_a_notebook(home: Path, tmp_path: Path) -> None:
    cells = [
        "%load_ext mlbench",
        "import mlflow.sklearn, pandas as pd\n"
        "from sklearn.linear_model import LogisticRegression\n"
        f"rows = pd.read_csv({str(IRIS)!r})\n"
        "X, y = rows.iloc[:, :4], rows.iloc[:, 4]\n"
        "mlflow.sklearn.save_model(LogisticRegression(max_iter=500).fit(X, y), 'lr',"
        " input_example=X.head(2))\n"
        "X.to_parquet('rows.parquet')",
        "%mlbench model register m --folder lr --alias prod",
        "%mlbench model list",
        "t = %mlbench model show m@prod\nprint(t.rows)",
        "import mlbench\nmlbench.Workspace().data.create('rows', 'rows.parquet')",
        "w = %mlbench model score m@prod --data data:rows --output data:scored --chunk-rows 64\n"
        "w.job.wait(120)\nprint(w.job.info.status.value)",
        "import mlbench\nprint(mlbench.Workspace().data.get('scored').to_pandas().shape)",
        "%mlbench model show m --versions",
        *BAD,
    ]
    nb = execute(cells, tmp_path)
    for cell in nb.cells[: -len(BAD)]:
        assert_ok(cell)
    _, _, registered, listed, shown, _, scored, shape, versions = nb.cells[:9]
    assert "m:1" in text(registered)
    assert "@prod=1" in text(listed)
    assert "sepal_length" in text(shown) and "'prod'" in text(shown)
    assert text(scored).strip().splitlines()[-1] == "completed", text(scored)
    assert text(shape).strip() == "(150, 5)"
    assert "versions of m" in text(versions)
    for cell, expected in zip(nb.cells[-len(BAD) :], BAD.values(), strict=True):
        lines = error_lines(cell)
        assert lines and expected in lines[-1], (cell.source, lines)
