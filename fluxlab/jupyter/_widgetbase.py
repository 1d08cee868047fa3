"""What every fluxlab widget shares: static assets, liveness, static fallback."""

from __future__ import annotations

import pathlib
from typing import Any

__all__ = ["STATIC", "LiveView", "static_text"]

STATIC = pathlib.Path(__file__).parent / "static"


def static_text(name: str) -> str:
    return (STATIC / name).read_text()


class LiveView:
    """Mixin for ipywidgets that a :class:`~fluxlab.jupyter.live.Live` refreshes.

    Subclasses implement ``refresh(live)`` and ``_static_html()``.  The mime
    bundle carries the widget view *and* a static HTML snapshot plus plain
    text, so GitHub / nbconvert renderings show the table as it was, while a
    live kernel shows the widget (JupyterLab prefers the widget view).
    """

    _live = None

    @property
    def closed(self) -> bool:
        """True once the widget was closed (``close()``): it is not refreshed."""
        return getattr(self, "comm", None) is None

    @property
    def live(self):
        return self._live

    def _repr_mimebundle_(self, **kwargs: Any):
        bundle = super()._repr_mimebundle_(**kwargs)  # type: ignore[misc]
        if bundle is None:
            return None
        data = bundle[0] if isinstance(bundle, tuple) else bundle
        try:
            data["text/html"] = self._static_html()
        except Exception:  # noqa: BLE001 - a fallback must never break display
            pass
        return bundle

    def _static_html(self) -> str:  # pragma: no cover - overridden
        return ""

    def stop(self) -> None:
        """Stop live updates for this widget (it keeps its last state)."""
        if self._live is not None:
            self._live.remove(self)
