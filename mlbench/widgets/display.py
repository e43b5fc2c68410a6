"""How mlbench's widgets are displayed: live where a widget manager runs, readable everywhere else.

Every widget is published with a ``display_id`` and three representations: the widget view,
``text/html`` and ``text/plain``. JupyterLab renders the widget; nbconvert, GitHub, papermill
and JupyterLab without the widget manager fall back to the HTML or text. When a widget's state
changes in a way that matters for a saved notebook (a job ends), the static representations are
re-published under the same ``display_id``, so a notebook saved later reads its final state.
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

log = logging.getLogger(__name__)


def execution_count() -> int | None:
    """The number of the cell being executed, or None outside IPython."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with ipywidgets
        return None
    ip = get_ipython()
    return getattr(ip, "execution_count", None) if ip is not None else None


class Displayable:
    """Displayed with a ``display_id``; :meth:`show` displays now and keeps the cell's result
    (the same object, returned by a magic) from showing it a second time."""

    _display_id: str = ""
    _displayed: bool = False
    _shown_in_cell: int | None = None

    def _display_bundle(self) -> dict[str, Any]:
        raise NotImplementedError

    def _ipython_display_(self) -> None:
        from IPython.display import display

        if self._shown_in_cell is not None and self._shown_in_cell == execution_count():
            return  # shown already by the magic that returned it: not twice
        if not self._display_id:
            self._display_id = uuid.uuid4().hex
        display(self._display_bundle(), raw=True, display_id=self._display_id)
        self._displayed = True

    def show(self) -> Any:
        """Display now; returns self."""
        self._ipython_display_()
        self._shown_in_cell = execution_count()
        return self


class StaticReprMixin(Displayable):
    """For an ipywidgets widget: add static HTML/text reprs and re-publish them on change.

    Subclasses implement :meth:`_static_html` and :meth:`_static_text`.
    """

    def _static_html(self) -> str:
        raise NotImplementedError

    def _static_text(self) -> str:
        raise NotImplementedError

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        data: dict[str, Any] = {}
        try:
            data.update(super()._repr_mimebundle_(**kwargs) or {})  # type: ignore[misc]
        except Exception:  # a closed widget has no view any more; the static reprs remain
            log.debug("no widget view for %r", self, exc_info=True)
        data["text/plain"] = self._static_text()
        data["text/html"] = self._static_html()
        return data

    def _display_bundle(self) -> dict[str, Any]:
        return self._repr_mimebundle_()

    def _republish(self) -> None:
        """Refresh the static reprs of every place this widget was displayed."""
        if not self._displayed:
            return
        try:
            from IPython.display import update_display

            update_display(self._repr_mimebundle_(), raw=True, display_id=self._display_id)
        except Exception:  # never let a display update break the watcher
            log.debug("could not update the display of %r", self, exc_info=True)
