"""The map of the five states as SVG paths, for pages that draw it in the browser.

The dashboard (a Vue template) and the classroom game (plain JavaScript) draw the same map as
:mod:`sim.views.map` draws with matplotlib: the same shipped outlines (Natural Earth, public
domain, ``sim/data/map/``), the same equirectangular projection true to shape at the region's
mid-latitude, and the same colours (:class:`~sim.views.charts.ChartStyle`). Here the outlines are
projected once into SVG path strings in pixel units, so the browser only fills them in.

:func:`readable_text` picks black or white text for a power's colour so that labels on coloured
tiles keep a WCAG contrast ratio of at least 4.5:1.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import numpy as np

from sim.views.map import load_outlines

#: Width of the projected map in SVG user units (pixels at 100% zoom).
WIDTH = 640
MARGIN_DEGREES = 0.5


def _bounds() -> tuple[float, float, float, float, float]:
    """(west, south, east, north, x-scale): the five states with a margin, and cos(mid-latitude)."""
    points = np.concatenate([ring for o in load_outlines().values() for polygon in o.polygons for ring in polygon])
    (x0, y0), (x1, y1) = points.min(axis=0) - MARGIN_DEGREES, points.max(axis=0) + MARGIN_DEGREES
    return float(x0), float(y0), float(x1), float(y1), float(np.cos(np.radians((y0 + y1) / 2)))


@cache
def svg_outlines(width: int = WIDTH) -> dict[str, Any]:
    """``{"width", "height", "states": {id: {"name", "d", "label": [x, y]}}}`` in SVG units (y downwards).

    ``d`` holds every ring of the state (holes included; draw with ``fill-rule="evenodd"``).
    """
    west, south, east, north, kx = _bounds()
    scale = width / ((east - west) * kx)

    def project(lon: float, lat: float) -> tuple[float, float]:
        return round((lon - west) * kx * scale, 1), round((north - lat) * scale, 1)

    states = {}
    for key, outline in load_outlines().items():
        parts = []
        for polygon in outline.polygons:
            for ring in polygon:
                xy = [project(lon, lat) for lon, lat in ring]
                parts.append("M" + "L".join(f"{x:g} {y:g}" for x, y in xy) + "Z")
        states[key] = {"name": outline.name, "d": "".join(parts), "label": list(project(*outline.label))}
    return {"width": width, "height": round((north - south) * scale), "states": states}


def _luminance(color: str) -> float:
    """WCAG relative luminance of ``#RRGGBB``."""
    rgb = [int(color.lstrip("#")[i:i + 2], 16) / 255 for i in (0, 2, 4)]
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two ``#RRGGBB`` colours (1 to 21)."""
    la, lb = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def readable_text(background: str) -> str:
    """Black or white, whichever reads better on ``background``."""
    return "#000000" if contrast(background, "#000000") >= contrast(background, "#FFFFFF") else "#FFFFFF"
