"""The debrief of a finished (or stopped) game: what each team did, what the baseline plan would have given.

The counterfactual is the model's own answer: the same starting scenario, the same teacher's
events, the same seed (replication 0, so the same protests and clashes as far as the draws stay
aligned), every power played by the model's own rule, run over the same quarters
(:meth:`sim.teaching.classroom.game.Game.counterfactual`). The difference at the end, per power in
points of regional share, is the class's doing under the model's assumptions; other replications
(``sim compare``) say how much of it is luck.

Turning points are the turns in which a state changed leader and the turns with the largest swing
in a power's regional share. The discussion questions are written from those numbers. The
report is one HTML file beside the saved game (no script, no outside resources), the same data the
pages show as JSON.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import numpy as np

from sim.analysis.plain_words import changes, points, sentence
from sim.atomic import atomic_write_text
from sim.teaching.classroom.explain import regional_shares, state_shares


def debrief(game: Any) -> dict[str, Any]:
    """The debrief's data (see the module docstring); needs at least one played turn."""
    model, names = game.model, [game.style.name(p) for p in game.powers]
    reports = [game.reports[n] for n in sorted(game.reports)]
    played = model.stocks
    other = game.counterfactual().stocks
    mine, theirs = regional_shares(model, played), regional_shares(model, other)
    leaders_game = np.argmax(state_shares(model, played), axis=0)
    leaders_base = np.argmax(state_shares(model, other), axis=0)
    states = [{"state": game.style.name(s), "game": names[leaders_game[i]], "baseline": names[leaders_base[i]]}
              for i, s in enumerate(game.states)]
    comparison = [{"power": p, "name": names[i], "game": round(float(mine[i]), 4),
                   "baseline_plan": round(float(theirs[i]), 4), "difference": round(float(mine[i] - theirs[i]), 4)}
                  for i, p in enumerate(game.powers)]
    data = {
        "code": game.code, "title": game.source.title, "quarters": f"{game.source.start_label} to "
        f"{model.quarter_of_step(model.steps) if model.steps else game.source.start_label}",
        "headline": "Against the baseline plan: " + sentence(changes(game.powers, theirs, mine,
                                                                     dict(zip(game.powers, names)))),
        "comparison": comparison, "leaders": states,
        "teams": _teams(reports), "turning_points": turning_points(reports),
        "teacher_events": [e["title"] for e in game.injects_played()],
    }
    data["questions"] = questions(data)
    return data


def _teams(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per team, turn by turn: who decided (students or the bot) and where each channel's budget went."""
    teams: dict[str, dict[str, Any]] = {}
    for report in reports:
        for team in report.get("teams", []):
            entry = teams.setdefault(team["power"], {"power": team["power"], "name": team["name"], "turns": []})
            who = f"{team['students']} student(s)" if team["students"] else "the bot"
            sent = "; ".join(f"{c['channel']} {c['total']:,.0f}" + (f" (most to {', '.join(c['top'])})" if c["top"]
                                                                      else "") for c in team["channels"])
            entry["turns"].append({"turn": report["turn"], "label": report["label"], "who": who, "sent": sent})
    return list(teams.values())


def turning_points(reports: list[dict[str, Any]]) -> list[str]:
    """Leader switches, and the three turns with the largest swing in one power's regional share."""
    out = [f"Turn {r['turn']} ({r['label']}): {s['headline']}" for r in reports for s in r["states"] if s["switched"]]
    swings = []
    for r in reports:
        for row in r["region"]:
            swings.append((abs(row["after"] - row["before"]), r, row))
    for _, r, row in sorted(swings, key=lambda x: -x[0])[:3]:
        if abs(row["after"] - row["before"]) * 100 >= 0.5:
            out.append(f"Turn {r['turn']} ({r['label']}): {row['name']} {points(row['after'] - row['before'])} points "
                       f"of regional share in one turn.")
    return out


def questions(data: dict[str, Any]) -> list[str]:
    """Discussion questions written from the debrief's numbers."""
    ranked = sorted(data["comparison"], key=lambda r: r["difference"])
    best, worst = ranked[-1], ranked[0]
    out = [f"{best['name']} gained most against the baseline plan ({points(best['difference'])} points of regional "
           "share). Which of its choices did that, and would the model's own rule ever have made them?",
           f"{worst['name']} did worst against the baseline plan ({points(worst['difference'])} points). Where did its "
           "effort go, and who won the room it left?"]
    changed = [row for row in data["leaders"] if row["game"] != row["baseline"]]
    if changed:
        row = changed[0]
        out.append(f"{row['state']} ends led by {row['game']}, where the baseline plan gives {row['baseline']}. "
                   "What made the difference: a team's plan, or an event?")
    if data["teacher_events"]:
        out.append(f"The teacher's events ({'; '.join(data['teacher_events'])}) hit every team. Who adapted best?")
    out += ["Was it skill or luck? Run `sim compare` on the saved game: is the difference clear of zero across "
            "replications?",
            "Where did two teams' efforts cancel out (the same state and channel)?",
            "What does the model leave out that you used in your reasoning (trade, migration, elite ties, media)?"]
    return out


def report_html(data: dict[str, Any]) -> str:
    """The debrief as one self-contained HTML page (escaped text; no script)."""
    e = html.escape
    rows = "".join(f"<tr><th scope='row'>{e(r['name'])}</th><td>{r['game']:.1%}</td><td>{r['baseline_plan']:.1%}</td>"
                   f"<td>{e(points(r['difference']))}</td></tr>" for r in data["comparison"])
    leaders = "".join(f"<tr><th scope='row'>{e(r['state'])}</th><td>{e(r['game'])}</td><td>{e(r['baseline'])}</td>"
                      "</tr>" for r in data["leaders"])
    teams = "".join(f"<h3>{e(t['name'])}</h3><ul>" + "".join(
        f"<li>Turn {x['turn']} ({e(x['label'])}), decided by {e(x['who'])}: {e(x['sent'])}</li>" for x in t["turns"])
        + "</ul>" for t in data["teams"])
    points_ = "".join(f"<li>{e(x)}</li>" for x in data["turning_points"]) or "<li>none</li>"
    asks = "".join(f"<li>{e(x)}</li>" for x in data["questions"])
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Debrief: class game {e(data['code'])}</title>
<style>body{{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem;line-height:1.45}}
table{{border-collapse:collapse}}th,td{{border-bottom:1px solid #ccc;padding:.25rem .6rem;text-align:left}}</style>
</head><body><main>
<h1>Debrief: class game {e(data['code'])}</h1>
<p>{e(data['title'])}, {e(data['quarters'])}.</p>
<h2>The class against the baseline plan</h2>
<p><strong>{e(data['headline'])}</strong> (points of regional share of outside influence at the end, the class's game
minus the same quarters, seed and teacher's events with every power played by the model's own rule).</p>
<table><thead><tr><th scope="col">Power</th><th scope="col">Class's game</th><th scope="col">Baseline plan</th>
<th scope="col">Difference (points)</th></tr></thead><tbody>{rows}</tbody></table>
<h2>Who leads each state at the end</h2>
<table><thead><tr><th scope="col">State</th><th scope="col">Class's game</th><th scope="col">Baseline plan</th></tr>
</thead><tbody>{leaders}</tbody></table>
<h2>What each team did</h2>{teams}
<h2>Turning points</h2><ul>{points_}</ul>
<h2>Questions for the discussion</h2><ol>{asks}</ol>
</main></body></html>
"""


def write_report(data: dict[str, Any], folder: Path, name: str) -> Path:
    path = Path(folder) / f"{name}-debrief.html"
    atomic_write_text(path, report_html(data))
    return path
