"""Make ``sim/data/map/central_asia.geojson`` from Natural Earth's admin-0 outlines at 1:50m.

The outlines come from the npm package world-atlas 2.0.2, which redistributes Natural Earth
(public domain) version 4.1.0 as TopoJSON under the ISC licence. Get it and run this script
once, by hand (nothing is fetched at run time; the package ships the small GeoJSON it writes):

    npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz      # -> package/countries-50m.json
    python3 -m venv /tmp/mapvenv && /tmp/mapvenv/bin/pip install shapely
    /tmp/mapvenv/bin/python scripts/make_map_outlines.py package/countries-50m.json

shapely is needed by this script only, not by the package. The script decodes the TopoJSON arcs
(quantised, delta-encoded), simplifies each arc on its own with shapely's
``simplify(preserve_topology=True)`` so that a border shared by two states stays one line (no
gaps or overlaps between neighbours), rebuilds each state's polygons from its arcs, drops
rings smaller than ``MIN_AREA`` (islands in the Caspian and Aral seas; exclaves are larger and
kept), checks that every polygon is valid, rounds coordinates to ``DIGITS`` decimals and writes
one Feature per state with properties ``id`` (the model's state id), ``name`` and ``label`` (a
point well inside the state's largest polygon, its pole of inaccessibility: where the map puts
the state's name and bar).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shapely.geometry import LineString, MultiPolygon, Polygon, mapping
from shapely.ops import polylabel
from shapely.validation import explain_validity

#: Natural Earth name -> the model's state id (sim/data/states.yaml).
STATES = {"Kazakhstan": "KZ", "Kyrgyzstan": "KG", "Tajikistan": "TJ", "Turkmenistan": "TM", "Uzbekistan": "UZ"}
#: Simplification tolerance in degrees (about 5 km): enough for a chart a few hundred pixels wide.
TOLERANCE = 0.05
#: Rings smaller than this (square degrees) are dropped.
MIN_AREA = 0.01
DIGITS = 2
OUT = Path(__file__).resolve().parents[1] / "sim" / "data" / "map" / "central_asia.geojson"


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    """Every arc as absolute longitude-latitude points (undo the delta encoding and quantisation)."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def simplify_arc(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """One arc simplified; its end points stay, so neighbours sharing it still meet."""
    if len(points) < 3:
        return points
    simple = LineString(points).simplify(TOLERANCE, preserve_topology=True)
    return [(round(x, DIGITS), round(y, DIGITS)) for x, y in simple.coords]


def ring(indices: list[int], arcs: list[list[tuple[float, float]]]) -> list[tuple[float, float]]:
    """A closed ring from arc indices; a negative index ``~i`` is arc ``i`` reversed."""
    out: list[tuple[float, float]] = []
    for index in indices:
        points = arcs[index] if index >= 0 else arcs[~index][::-1]
        out.extend(points if not out else points[1:])
    return out


def state_polygon(geometry: dict, arcs: list[list[tuple[float, float]]]) -> MultiPolygon:
    polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
    parts = []
    for rings in polygons:
        shell, *holes = [ring(r, arcs) for r in rings]
        if len(shell) < 4 or Polygon(shell).area < MIN_AREA:
            continue
        holes = [h for h in holes if len(h) >= 4 and Polygon(h).area >= MIN_AREA]
        parts.append(Polygon(shell, holes))
    return MultiPolygon(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("topojson", type=Path, help="countries-50m.json from world-atlas 2.0.2")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    topology = json.loads(args.topojson.read_text(encoding="utf-8"))
    arcs = [simplify_arc(a) for a in decode_arcs(topology)]
    features = []
    for geometry in topology["objects"]["countries"]["geometries"]:
        name = geometry.get("properties", {}).get("name")
        if name not in STATES:
            continue
        shape = state_polygon(geometry, arcs)
        if not shape.is_valid:
            raise SystemExit(f"{name}: invalid polygon after simplification: {explain_validity(shape)}")
        largest = max(shape.geoms, key=lambda p: p.area)
        label = polylabel(largest, tolerance=0.01)
        features.append({"type": "Feature",
                         "properties": {"id": STATES[name], "name": name,
                                        "label": [round(label.x, DIGITS), round(label.y, DIGITS)]},
                         "geometry": mapping(shape)})
    missing = set(STATES) - {f["properties"]["name"] for f in features}
    if missing:
        raise SystemExit(f"not found in {args.topojson}: {', '.join(sorted(missing))}")
    features.sort(key=lambda f: f["properties"]["id"])
    collection = {"type": "FeatureCollection",
                  "source": "Natural Earth 1:50m admin-0 countries v4.1.0 (public domain), via world-atlas 2.0.2 "
                            "(ISC); simplified by scripts/make_map_outlines.py",
                  "features": features}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(collection, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"{args.out}: {len(features)} states, {args.out.stat().st_size / 1024:.1f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
