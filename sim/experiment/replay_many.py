"""Replaying the scheduled events of many design points at once: a chunk's worlds and plan as arrays.

The batched engine's inputs for a design point are its replay (:func:`sim.experiment.replay.replay`:
the worlds it passes through as events change parameters, the tension rises and one-off actions of
each step) stacked into a world table and a plan. Replayed point by point, that is a
:func:`~sim.model.world.build_world` per point and per parameter-changing event (1.5 ms each), far
more than the compiled runs cost. But the points of a sweep or a policy search differ only in a
few parameters, and mostly in ways the replay does not see:

* **Groups.** Points with the same overridden paths and the same values for the paths the replay
  itself reads (those the events change, ``model.quarters_per_step`` and ``model.clashes.tension``,
  :data:`REPLAY_FIELDS`) fire the same events at the same steps with the same effects on those
  paths: one replay of the group (its *template*, the model's own scheduler on its first point)
  serves all of them.
* **Patches.** The template's worlds are built with :func:`~sim.model.world.world_sources`, which
  traces which element of which field reads each parameter and what the derived fields read. The
  group's other overridden paths are patched element by element into copies of the template's
  worlds, for all points at once (array assignment), and the fields computed from fields alone
  (:func:`~sim.model.world.combine_fields`: receptivity and the like) are recomputed once per
  distinct set of inputs. This is exact when no such path is read by a derived field
  (:class:`~sim.model.world.WorldSources`); otherwise, and for a group of one point, the points are
  replayed one by one as before.

So a chunk of D points costs a few template replays (kept across chunks in the
:class:`~sim.experiment.replay.ReplayCache`) plus array work, and its table and plan are those the
per-point path builds, bit for bit (tests/experiment/test_replay_many.py).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.experiment.replay import (
    Plan,
    PointReplay,
    ReplayCache,
    UnsupportedByEngine,
    build_plan,
    point_parameters,
    replay,
)
from sim.model.world import FIELD_BY_NAME, FIELDS, World, WorldSources, WorldTable, combine_fields, world_sources

if TYPE_CHECKING:
    from sim.model.parameters import Parameter
    from sim.scenario.load import Scenario

#: Fields the replay reads from a world besides its actors: the step length and what a clash adds.
REPLAY_FIELDS = ("quarters_per_step", "clash_tension")
#: Group replays a cache keeps (about 0.2 MB each; a policy search needs one per uncertain world).
TEMPLATES_KEPT = 512
_DTYPES = {f.name: np.int64 if f.dtype is int else np.float64 for f in FIELDS}


def replay_paths(scenario: Scenario) -> frozenset[str]:
    """The parameter paths the replay of a point reads: those its events change and :data:`REPLAY_FIELDS`'."""
    paths = {FIELD_BY_NAME[name].path for name in REPLAY_FIELDS}
    for event in scenario.events:
        for effect in event.parameter_effects:
            paths.update(effect.paths)
    return frozenset(p for p in paths if p is not None)


def group_key(values: Mapping[str, Any], replayed: frozenset[str]) -> tuple[Any, ...]:
    """What points of one group share: the paths they override, and their values where the replay reads them."""
    keys = tuple(sorted(values))
    return keys, tuple(repr(values[k]) for k in keys if k in replayed)


@dataclass
class Template:
    """The replay a group of points shares, each of its worlds traced, and how to patch the rest in."""

    replay: PointReplay
    sources: list[WorldSources]  # one per world of the replay
    patched: tuple[str, ...]  # the overridden paths set point by point
    parameters: dict[str, Parameter]  # theirs (what checks and converts a value, as ParameterSet.override does)
    exact: bool  # whether patching gives the per-point worlds (else: the points are replayed one by one)
    stacked: dict[str, np.ndarray]  # each field over the replay's worlds (K, ...)
    plan: Plan  # the replay as a one-point plan
    combined: dict[tuple[int, bytes], dict[str, Any]] = field(default_factory=dict)  # (world, inputs) -> fields

    @cached_property
    def layout(self) -> tuple[Any, ...]:
        """What groups patched together must share: worlds and their shapes, patched paths and where each lands,
        combined inputs."""
        where = tuple(tuple(tuple(s.elements.get(path, ())) for path in self.patched) for s in self.sources)
        shapes = tuple((name, a.shape) for name, a in self.stacked.items())
        return shapes, self.patched, where, tuple(self.inputs(k) for k in range(len(self.sources)))

    def inputs(self, k: int) -> tuple[str, ...]:
        """The fields :func:`~sim.model.world.combine_fields` reads that patching changes in world ``k``."""
        sources = self.sources[k]
        return tuple(sorted({name for path in self.patched for name, _ in sources.elements.get(path, ())
                             if name in sources.combined_fields}))


def make_template(scenario: Scenario, values: Mapping[str, Any], replayed: frozenset[str]) -> Template:
    """Replay one point of a group, tracing its worlds, and decide whether its group can be patched."""

    sources: list[WorldSources] = []

    def build(params: Any) -> World:
        sources.append(world_sources(params))
        return sources[-1].world

    rep = replay(scenario, values, build)
    patched = tuple(k for k in sorted(values) if k not in replayed)
    params = point_parameters(scenario, values)
    parameters = {k: params.get(k) for k in patched}
    exact = all(parameters[k].is_number for k in patched) and all(_patchable(s, k) for s in sources for k in patched)
    stacked = {name: np.stack([np.asarray(w.arrays[name], dtype=_DTYPES[name]) for w in rep.worlds])
               for name in rep.worlds[0].arrays}
    rep.titles  # noqa: B018  (formatted once, shared by the group's points)
    return Template(rep, sources, patched, parameters, exact, stacked, build_plan(scenario.start, [rep])[0])


def _patchable(sources: WorldSources, path: str) -> bool:
    """A path whose value reaches a world only through path fields' elements that no derived field reads."""
    if path in sources.derived_params:
        return False
    return not any(name in sources.derived_fields for name, _ in sources.elements.get(path, ()))


@dataclass
class Unit:
    """Points replayed together: groups patched at once, or one point replayed alone."""

    points: np.ndarray  # (n,) local indices (positions in the chunk's sorted points)
    group: np.ndarray  # (n,) each point's group: its index into ``templates`` and ``plans``
    templates: list[PointReplay]  # per group: the replay whose steps, rises and actions its points follow
    plans: list[Plan]  # per group: that replay as a one-point plan
    columns: dict[str, np.ndarray]  # each field over the unit's worlds: row i * K + k is point i's world k
    replays: list[PointReplay]  # per point

    @property
    def K(self) -> int:
        return len(self.templates[0].worlds)


def patched_unit(templates: list[Template], group: np.ndarray, points: np.ndarray,
                 values: Sequence[Mapping[str, Any]]) -> Unit:
    """The worlds of points of groups with one layout: each group's template worlds, each point's paths set.

    Array work over all the points at once: a gather per field, an assignment per patched element,
    and :func:`~sim.model.world.combine_fields` once per distinct set of its patched inputs.
    """

    first = templates[0]
    n, K = len(points), len(first.sources)
    g_row, k_row = np.repeat(group, K), np.tile(np.arange(K), n)
    columns = {name: np.stack([t.stacked[name] for t in templates])[g_row, k_row] for name in first.stacked}
    for path in first.patched:
        raw = [v[path] for v in values]
        checked = {x: first.parameters[path].checked(x, None, path, None) for x in set(raw)}
        column = np.array([checked[x] for x in raw], dtype=np.float64)
        for k, sources in enumerate(first.sources):
            for name, i in sources.elements.get(path, ()):
                columns[name].reshape(n * K, -1)[k::K, i] = column
    for k in range(K):
        _recombine(templates, group, columns, k, n, K)
    spin = columns["spinup_quarters"][::K]
    replays = []
    for i in range(n):
        rep = templates[group[i]].replay
        own = PointReplay(_Rows(columns, rep.worlds[0], i * K, K), rep.world_of_step, rep.rises, rep.actions,
                          rep.log, rep.step_quarters, int(spin[i]), rep.start)
        own.__dict__["titles"] = rep.titles  # the same actors and borders as the template's (cached_property)
        replays.append(own)
    return Unit(points, group, [t.replay for t in templates], [t.plan for t in templates], columns, replays)


def _recombine(templates: list[Template], group: np.ndarray, columns: dict[str, np.ndarray], k: int, n: int,
               K: int) -> None:
    """Recompute the combined fields of the points' k-th worlds where a field they read was patched.

    Once per group and distinct set of patched inputs (a lever that no combined field reads does not
    multiply the work), and remembered by the group's template for the chunks that follow.
    """
    inputs = templates[0].inputs(k)
    if not inputs:
        return
    rows = np.arange(k, n * K, K)
    keys = np.concatenate([group[:, None].astype(np.uint64),
                           *(columns[name][rows].reshape(n, -1).view(np.uint64) for name in inputs)], axis=1)
    keys = np.ascontiguousarray(keys)
    _, first, inverse = np.unique(keys.view(np.dtype((np.void, keys.shape[1] * 8))).ravel(), return_index=True,
                                  return_inverse=True)
    outputs = [_combined(templates[group[i]], k, inputs, columns, rows[i]) for i in first]
    for name in templates[0].sources[k].combined:
        columns[name][rows] = np.stack([np.asarray(v[name], dtype=_DTYPES[name]) for v in outputs])[inverse.ravel()]


def _combined(tpl: Template, k: int, inputs: tuple[str, ...], columns: dict[str, np.ndarray],
              row: int) -> dict[str, Any]:
    """The combined fields of the template's world ``k`` with the inputs of ``row`` (remembered)."""
    key = (k, b"".join(columns[name][row].tobytes() for name in inputs))
    if key not in tpl.combined:
        values = dict(tpl.replay.worlds[k].arrays)
        for name in inputs:
            value = columns[name][row]
            values[name] = value if FIELD_BY_NAME[name].axes else FIELD_BY_NAME[name].dtype(value)
        combine_fields(values, tpl.sources[k].memberships)
        if len(tpl.combined) > 64:
            tpl.combined.clear()
        tpl.combined[key] = {name: values[name] for name in tpl.sources[k].combined}
    return tpl.combined[key]


def single_unit(rep: PointReplay, point: int, plan: Plan) -> Unit:
    """One point replayed alone (the per-point path)."""
    columns = {name: np.stack([np.asarray(w.arrays[name], dtype=_DTYPES[name]) for w in rep.worlds])
               for name in rep.worlds[0].arrays}
    return Unit(np.array([point]), np.zeros(1, dtype=np.int64), [rep], [plan], columns, [rep])


@dataclass
class Replayed:
    """A chunk's points replayed: the plan and world table the compiled loop reads, and each point's replay."""

    plan: Plan
    table: WorldTable
    replays: list[PointReplay]  # per local point
    worlds: Sequence[World]  # the rows of the table, as worlds
    first_world: np.ndarray  # (D,) each point's world before any event (where its spin-up runs)
    spin: np.ndarray  # (D,) its spin-up quarters


def replay_points(scenario: Scenario, cache: ReplayCache, points: Sequence[int],
                  values: Mapping[int, Mapping[str, Any]]) -> Replayed:
    """Replay a chunk's points (in the order given): by groups where they can be patched, else one by one."""

    replayed = replay_paths(scenario)
    groups: dict[tuple[Any, ...], list[int]] = {}
    for d, p in enumerate(points):
        groups.setdefault(group_key(values[p], replayed), []).append(d)
    units, layouts = [], {}
    for key, members in groups.items():
        tpl = cache.templates.get(key)
        if tpl is None and len(members) > 1:
            tpl = cache.templates[key] = make_template(scenario, values[points[members[0]]], replayed)
            if len(cache.templates) > TEMPLATES_KEPT:
                cache.templates.pop(next(iter(cache.templates)))
        if tpl is not None and tpl.exact:
            layouts.setdefault(tpl.layout, []).append((tpl, members))
            continue
        for d in members:
            rep = cache.get(points[d], values[points[d]])
            units.append(single_unit(rep, d, build_plan(scenario.start, [rep])[0]))
    for batch in layouts.values():
        members = np.concatenate([np.asarray(m, dtype=np.int64) for _, m in batch])
        group = np.concatenate([np.full(len(m), g, dtype=np.int64) for g, (_, m) in enumerate(batch)])
        units.append(patched_unit([t for t, _ in batch], group, members, [values[points[d]] for d in members]))
    return assemble(scenario.start, units, len(points))


def assemble(start: int, units: Sequence[Unit], D: int) -> Replayed:
    """Stack units into one plan and world table (what :func:`sim.experiment.replay.build_plan` makes of replays)."""

    T = units[0].plans[0].world.shape[1]
    P = units[0].plans[0].action_lo.shape[2]
    out = {name: np.zeros(shape, dtype=np.int64) for name, shape in (
        ("world", (D, T)), ("first_world", D), ("spin", D), ("step_quarters", D), ("rise_lo", (D, T)),
        ("rise_hi", (D, T)), ("action_lo", (D, T, P)), ("action_hi", (D, T, P)))}
    replays: list[Any] = [None] * D
    rows = rises = actions = 0
    for u in units:
        _place(u, rows, rises, actions, out)
        for i, d in enumerate(u.points):
            replays[d] = u.replays[i]
        rows += u.K * len(u.points)
        rises += sum(len(pl.rise_state) for pl in u.plans)
        actions += sum(len(pl.action_state) for pl in u.plans)
    columns = {name: _concatenate(name, [u.columns[name] for u in units]) for name in units[0].columns}
    plans = [plan for u in units for plan in u.plans]

    def cat(name: str) -> np.ndarray:
        return np.concatenate([getattr(pl, name) for pl in plans])

    plan = Plan(int(start), out["step_quarters"], out["world"], out["rise_lo"], out["rise_hi"], cat("rise_state"),
                cat("rise_amount"), out["action_lo"], out["action_hi"], cat("action_state"), cat("action_channel"),
                cat("action_amount"))
    table = WorldTable(*(np.ascontiguousarray(columns[name]) for name in WorldTable._fields))
    return Replayed(plan, table, replays, _Rows(columns, units[0].templates[0].worlds[0]), out["first_world"],
                    out["spin"])


def _place(u: Unit, rows: int, rises: int, actions: int, out: dict[str, np.ndarray]) -> None:
    """A unit's points' entries of the plan: their worlds from row ``rows``, rises and actions after those before."""
    K, idx, g = u.K, u.points, u.group
    rise_off = rises + np.cumsum([0] + [len(pl.rise_state) for pl in u.plans])[:-1]
    action_off = actions + np.cumsum([0] + [len(pl.action_state) for pl in u.plans])[:-1]
    base = rows + K * np.arange(len(idx))  # each point's first row
    out["world"][idx] = base[:, None] + np.stack([t.world_of_step for t in u.templates])[g]
    out["first_world"][idx] = base
    out["spin"][idx] = u.columns["spinup_quarters"][::K]
    out["step_quarters"][idx] = np.array([t.step_quarters for t in u.templates])[g]
    for name in ("rise_lo", "rise_hi"):
        out[name][idx] = np.stack([getattr(pl, name)[0] for pl in u.plans])[g] + rise_off[g, None]
    for name in ("action_lo", "action_hi"):
        out[name][idx] = np.stack([getattr(pl, name)[0] for pl in u.plans])[g] + action_off[g, None, None]


def _concatenate(name: str, parts: list[np.ndarray]) -> np.ndarray:

    shapes = {p.shape[1:] for p in parts}
    if len(shapes) > 1:
        raise UnsupportedByEngine(f"worlds differ in the shape of `{name}` ({sorted(shapes)}): they cannot share a "
                                  "table")
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


# -- the rows of a chunk's table, read as worlds (made when asked for) ------------------------------
class _RowArrays(Mapping[str, np.ndarray]):
    """One row of every field: a world's ``arrays``."""

    def __init__(self, columns: dict[str, np.ndarray], row: int) -> None:
        self.columns, self.row = columns, row

    def __getitem__(self, name: str) -> Any:
        column = self.columns[name]
        return column[self.row] if column.ndim > 1 else column[self.row].item()

    def __iter__(self) -> Iterator[str]:
        return iter(self.columns)

    def __len__(self) -> int:
        return len(self.columns)


def _row_world(columns: dict[str, np.ndarray], like: World, row: int) -> World:
    return replace(like, arrays=_RowArrays(columns, row))  # type: ignore[arg-type]


class _Rows(Sequence[World]):
    """Rows ``lo`` to ``lo + n`` of a table's columns as worlds (the actors and names of ``like``)."""

    def __init__(self, columns: dict[str, np.ndarray], like: World, lo: int = 0, n: int | None = None) -> None:
        self.columns, self.like, self.lo = columns, like, lo
        self.n = len(next(iter(columns.values()))) - lo if n is None else n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, k: int) -> World:  # type: ignore[override]
        if not -self.n <= k < self.n:
            raise IndexError(k)
        return _row_world(self.columns, self.like, self.lo + k % self.n)

