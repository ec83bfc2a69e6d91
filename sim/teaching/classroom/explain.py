"""What a turn did, in plain words: the events, every state's changes and their causes, budgets, the bot.

The game shows students the model's own terms (docs/odd.md, sections 7.6-7.11) rather than a
number they cannot read: a state's leader changed because one power *won room in the contest*
for a channel or another's ties *lapsed*; a state *balances* against a power that holds too
much of its outside influence, *hedges* by declining part of the offers in a channel it already
depends on, shuns a power for *fear of sanctions*; *arms deliveries* add to a supplier's security
offer; *protests* cut a power's ties; a *border clash* raises the demand for security.

Everything here reads a model that has just run a turn (its histories and the last step's
workspace) and returns plain data (lists and dicts of numbers and sentences) that the server
sends as JSON and :mod:`sim.teaching.classroom.debrief` writes into the debrief report. Pure
functions: nothing here changes the model.

The bot (:func:`bot_split`) plays a power nobody in the class plays, when the teacher asks for
it, with a rule a student can follow: start from the model's own split of each channel across
the states, then *defend* where the power leads (weight 1), *contest* where it trails the leader
by less than :data:`CONTEST_GAP` of composite share (weight :data:`CONTEST_WEIGHT`) and *hold
back* elsewhere (weight :data:`HOLD_WEIGHT`); it sends its whole budget.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.analysis.plain_words import changes, gains_and_losses, points, who_gained
from sim.model import mechanisms as mech
from sim.model.calendar import format_quarter
from sim.model.mechanisms import CHANNELS

#: The units students read a channel's budget in (declared with the channel, mechanisms.CHANNEL_TABLE).
UNITS = {c.name: c.unit for c in mech.CHANNEL_TABLE}
#: A share change smaller than this (in points) is not worth a sentence.
NOTABLE_POINTS = 1.0
#: An openness term below this is worth a sentence (a state declines at least 3% of an offer).
NOTABLE_OPENNESS = 0.97
#: The bot contests a state where it trails the leader by less than this share of composite influence.
CONTEST_GAP = 0.10
CONTEST_WEIGHT, HOLD_WEIGHT = 1.5, 0.75


def regional_shares(model: Any, stocks: np.ndarray) -> np.ndarray:
    """(P,) regional composite share per power, states weighted as in every regional figure."""
    world = model.world
    share = mech.shares(mech.composite(stocks, world.channel_weights))
    return share @ (np.asarray(world.regional_weights, float) / float(np.sum(world.regional_weights)))


def state_shares(model: Any, stocks: np.ndarray) -> np.ndarray:
    """(P,S) composite share per power and state."""
    return mech.shares(mech.composite(stocks, model.world.channel_weights))


def turn_headline(model: Any, before: np.ndarray, after: np.ndarray) -> str:
    """``China and the EU gained; Russia lost. China +2.7 points of regional share; ...`` (plain_words)."""
    names = dict(zip(model.world.powers, model.world.power_names))
    items = changes(list(model.world.powers), before, after, names)
    return f"{who_gained(items)} {gains_and_losses(items)}."


# -- one turn ---------------------------------------------------------------------------------------------
def turn_report(model: Any, first_step: int, steps: int, before: np.ndarray, numbers: dict[str, int],
                number: int) -> dict[str, Any]:
    """What turn ``number`` (model steps ``first_step`` .. ``first_step + steps - 1``) did; ``model`` has just run it.

    ``before``: the stocks (P,S,C) at the turn's start; ``numbers``: event id -> its number on every chart.
    """
    world = model.world
    names = list(world.power_names)
    last = first_step + steps - 1
    after = model.influence_history[last]
    region_before, region_after = regional_shares(model, before), regional_shares(model, after)
    first_q = model.start_quarter + first_step * model.step_quarters
    last_q = first_q + steps * model.step_quarters - 1
    label = format_quarter(first_q) if steps * model.step_quarters == 1 else \
        f"{format_quarter(first_q)}-{format_quarter(last_q)}"
    return {
        "turn": number, "label": label,
        "events": turn_events(model, first_step, steps, numbers),
        "headline": turn_headline(model, region_before, region_after),
        "region": [{"power": p, "name": names[i], "before": round(float(region_before[i]), 4),
                    "after": round(float(region_after[i]), 4)} for i, p in enumerate(world.powers)],
        "states": [state_report(model, s, first_step, steps, before) for s in range(len(world.states))],
    }


def turn_events(model: Any, first_step: int, steps: int, numbers: dict[str, int]) -> list[dict[str, Any]]:
    """The turn's scheduled events (numbered as on the charts; the teacher's marked) and random ones."""
    out = []
    for entry in model.event_log.entries:
        if not first_step < entry["step"] <= first_step + steps:
            continue
        event = str(entry["event"])
        if event.startswith("classroom-turn-"):
            continue
        scheduled = entry["kind"] == "scheduled"
        out.append({"number": numbers.get(event) if scheduled else None, "quarter": entry["quarter"],
                    "title": entry["title"], "kind": "teacher" if event.startswith("classroom-inject-")
                    else entry["kind"]})
    return out


def state_report(model: Any, s: int, first_step: int, steps: int, before: np.ndarray) -> dict[str, Any]:
    """One state: its leader before and after, each power's change in points, and why (the model's terms)."""
    world = model.world
    names, state = list(world.power_names), world.state_names[s]
    last = first_step + steps - 1
    share_before = state_shares(model, before)[:, s]
    share_after = state_shares(model, model.influence_history[last])[:, s]
    lead_before, lead_after = int(np.argmax(share_before)), int(np.argmax(share_after))
    if lead_before != lead_after:
        headline = f"{names[lead_after]} now leads in {state} (before: {names[lead_before]})."
    else:
        headline = f"{names[lead_after]} still leads in {state} ({share_after[lead_after]:.0%})."
    reasons = [contest_reason(model, s, p, before, model.influence_history[last], share_after[p] - share_before[p])
               for p in range(len(names)) if abs(share_after[p] - share_before[p]) * 100 >= NOTABLE_POINTS]
    reasons += openness_reasons(model, s) + arms_reasons(model, s, first_step, steps)
    reasons += random_reasons(model, s, first_step, steps)
    return {"id": world.states[s], "name": state, "leader_before": world.powers[lead_before],
            "leader": world.powers[lead_after], "switched": lead_before != lead_after, "headline": headline,
            "changes": {world.powers[p]: round(float(share_after[p] - share_before[p]), 4) for p in range(len(names))},
            "reasons": reasons}


def contest_reason(model: Any, s: int, p: int, before: np.ndarray, after: np.ndarray, change: float) -> str:
    """Why a power's share moved: the channel whose ties moved most, won in the contest or lapsed."""
    names, state = model.world.power_names, model.world.state_names[s]
    delta = after[p, s] - before[p, s]
    c = int(np.argmax(delta)) if change > 0 else int(np.argmin(delta))
    channel = CHANNELS[c]
    if change > 0:
        how = (f"won room in the contest for {channel}" if delta[c] > 0
               else f"lost less than the others as {channel} ties lapsed")
    else:
        how = (f"its {channel} ties lapsed faster than its offers renewed them" if delta[c] < 0
               else f"the others won more of the room in {channel}")
    return f"{names[p]} {points(change)} points in {state}: {how}."


def openness_reasons(model: Any, s: int) -> list[str]:
    """The state's choices in the turn's last step: balancing, hedging and fear of sanctions (ODD 7.6, 7.9)."""
    world, params = model.world, model.parameters
    names, state = world.power_names, world.state_names[s]
    out = []
    threshold = float(params.value("model.balancing.threshold"))
    for p, power in enumerate(world.powers):
        discount = float(model.discount[p, s])
        if discount < NOTABLE_OPENNESS:
            out.append(f"{state} balances against {names[p]}, which holds {model.composite_share[p, s]:.0%} of the "
                       f"powers' influence there (more than the {threshold:.0%} it accepts from one power): it takes "
                       f"up only {discount:.0%} of {names[p]}'s offers.")
        risk = float(params.value(f"powers.{power}.sanctions_risk"))
        for c, channel in enumerate(CHANNELS):
            sanction = 1 - float(params.value(f"model.sanctions_weight.{channel}")) * risk
            hedge = float(model.openness[p, s, c]) / max(discount * sanction, 1e-12)
            if model.stocks[p, s, c] <= 0:
                continue
            if sanction < NOTABLE_OPENNESS:
                out.append(f"Fear of sanctions: {state} declines {1 - sanction:.0%} of {names[p]}'s {channel} offers.")
            if hedge < NOTABLE_OPENNESS:
                out.append(f"Hedging: {state} already depends on {names[p]} for much of its {channel}, so it "
                           f"declines {1 - hedge:.0%} of {names[p]}'s {channel} offers.")
    return out


def arms_reasons(model: Any, s: int, first_step: int, steps: int) -> list[str]:
    """Arms delivered to the state during the turn, by supplier (they add to the supplier's security offer)."""
    world = model.world
    suppliers = [*world.power_names, "the rest of the world"]
    delivered = model.delivered_history[first_step:first_step + steps, :, s].sum(axis=0)
    return [f"Arms deliveries: {suppliers[q]} delivered major arms worth {delivered[q]:,.0f} TIV m to "
            f"{world.state_names[s]}, which adds to its security offer there."
            for q in np.argsort(-delivered, kind="stable") if delivered[q] >= 0.5]


def random_reasons(model: Any, s: int, first_step: int, steps: int) -> list[str]:
    """Protests against a power in the state, and border clashes it was part of, during the turn."""
    world = model.world
    window = slice(first_step, first_step + steps)
    out = [f"Protests against {world.power_names[p]} in {world.state_names[s]} cut its ties there."
           for p in np.nonzero(model.protest_history[window, :, s].any(axis=0))[0]]
    pairs = np.asarray(world.border_pairs).reshape(-1, 2)
    for b in np.nonzero(model.clash_history[window].any(axis=0))[0]:
        i, j = (int(x) for x in pairs[b])
        if s in (i, j):
            other = world.state_names[j if s == i else i]
            out.append(f"A border clash with {other} raised {world.state_names[s]}'s demand for security.")
    return out


# -- budgets -----------------------------------------------------------------------------------------------
def budget_report(power: str, name: str, per_quarter_before: np.ndarray | None, per_quarter_now: np.ndarray,
                  reasons: dict[str, list[str]], turn_quarters: int) -> list[dict[str, Any]]:
    """Per channel: this turn's budget, last turn's (per quarter), the change and why, in a sentence."""
    out = []
    for c, channel in enumerate(CHANNELS):
        now = float(per_quarter_now[c]) * turn_quarters
        row: dict[str, Any] = {"channel": channel, "unit": UNITS[channel], "budget": round(now, 2)}
        if per_quarter_before is None:
            row["sentence"] = f"{channel.capitalize()}: {now:,.0f} {UNITS[channel]} this turn (the first)."
        else:
            was, is_ = float(per_quarter_before[c]), float(per_quarter_now[c])
            change = (is_ / was - 1) if was > 0 else (0.0 if is_ == 0 else 1.0)
            row["change"] = round(change, 4)
            why = reasons.get(channel) or []
            if abs(change) < 0.005:
                text = "the same per quarter as last turn"
            else:
                text = f"{change:+.0%} per quarter against last turn" + (": " + "; ".join(why) if why else "")
            row["sentence"] = f"{channel.capitalize()}: {now:,.0f} {UNITS[channel]} this turn, {text}."
        out.append(row)
    return out


def budget_causes(events: list[Any], power: str, first: int, end: int, numbers: dict[str, int],
                  trend: dict[str, float], trends_from: int, year: int) -> dict[str, list[str]]:
    """Per channel, why ``power``'s budget moved between quarters ``first`` and ``end`` (exclusive).

    Events that change the power's budget in the channel (or its capacity, which scales them all),
    or end such a change, in that window; and the budget trend once trends apply (ODD 7.5).
    """
    out: dict[str, list[str]] = {c: [] for c in CHANNELS}
    for event in events:
        if str(event.id).startswith("classroom-turn-"):
            continue
        paths = [path for effect in event.parameter_effects for path in effect.paths]
        label = f"{event.title} (event {numbers[event.id]})" if event.id in numbers else event.title
        for channel in CHANNELS:
            touches = any(p in (f"powers.{power}.budget.{channel}", f"powers.{power}.capacity") for p in paths)
            if touches and first <= event.date < end:
                out[channel].append(label)
            elif touches and event.until is not None and first <= event.until + 1 < end:
                out[channel].append(f"the end of {label}")
    for channel in CHANNELS:
        rate = trend.get(channel, 0.0)
        if rate and year >= trends_from:
            out[channel].append(f"the budget trend ({rate:+.0%} a year from {trends_from})")
    return out


# -- the bot ---------------------------------------------------------------------------------------------------
def bot_split(model: Any, p: int, own_split: np.ndarray) -> np.ndarray:
    """(S,C) fractions of each channel's budget the bot sends to each state (see the module docstring)."""
    share = state_shares(model, model.stocks)
    leader = share.max(axis=0)
    weight = np.where(share[p] >= leader, 1.0, np.where(leader - share[p] < CONTEST_GAP, CONTEST_WEIGHT, HOLD_WEIGHT))
    raw = own_split * weight[:, None]
    total = raw.sum(axis=0, keepdims=True)
    even = np.full_like(raw, 1.0 / raw.shape[0])
    return np.where(total > 0, np.divide(raw, total, out=np.zeros_like(raw), where=total > 0), even)
