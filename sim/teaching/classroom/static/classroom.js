/* Shared by the teacher's and the students' pages: requests, the map, the regional-shares chart.
   Text from the server is always set as text (textContent), never parsed as HTML. */
"use strict";

const SVG_NS = "http://www.w3.org/2000/svg";

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else if (key === "style") Object.assign(node.style, value);
    else node.setAttribute(key, value);
  }
  for (const child of children || []) node.append(child);
  return node;
}

function svgEl(tag, attrs, children) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (key === "text") node.textContent = value;
    else node.setAttribute(key, value);
  }
  for (const child of children || []) node.append(child);
  return node;
}

async function api(path, options) {
  const opts = options || {};
  const headers = Object.assign({ "Content-Type": "application/json" }, opts.headers || {});
  const response = await fetch(path, {
    method: opts.method || "GET", headers: headers, cache: "no-store",
    body: opts.body === undefined ? undefined : JSON.stringify(opts.body),
  });
  let data = {};
  try { data = await response.json(); } catch (err) { data = { error: "the server sent no answer" }; }
  if (!response.ok) {
    const error = new Error(data.error || ("error " + response.status));
    error.status = response.status;
    throw error;
  }
  return data;
}

function percent(x) { return Math.round(x * 100) + "%"; }

function number(x) { return Number(x).toLocaleString("en-GB", { maximumFractionDigits: 2 }); }

function swatch(color) { return el("span", { class: "swatch", style: { background: color }, "aria-hidden": "true" }); }

function legend(powers) {
  return el("ul", { class: "legend", "aria-label": "Colours of the powers" },
    powers.map((p) => el("li", {}, [swatch(p.color), p.name])));
}

let outlinesCache = null;
async function outlines() {
  if (!outlinesCache) outlinesCache = await api("/api/map");
  return outlinesCache;
}

/* The five states filled with their leader's colour, each with a stacked bar of the powers' shares. */
async function drawMap(container, view, title) {
  const shape = await outlines();
  const byId = Object.fromEntries(view.states.map((s) => [s.id, s]));
  const svg = svgEl("svg", {
    viewBox: "0 0 " + shape.width + " " + shape.height, class: "map-svg", role: "img",
    "aria-labelledby": container.id + "-title",
  });
  svg.append(svgEl("title", { id: container.id + "-title", text: title }));
  for (const [id, outline] of Object.entries(shape.states)) {
    const state = byId[id];
    const group = svgEl("g", { "data-state": id });
    group.append(svgEl("path", {
      d: outline.d, fill: state ? state.color : "#dddddd", "fill-opacity": "0.55", stroke: "#333333",
      "stroke-width": "1.2", "fill-rule": "evenodd",
    }));
    if (state) drawBar(group, outline.label, state);
    const name = state ? state.name : outline.name;
    group.append(svgEl("text", {
      x: outline.label[0] + 12, y: outline.label[1] + 7, "font-size": "22", "font-weight": "600", fill: "#000000",
      stroke: "#ffffff", "stroke-width": "3", "paint-order": "stroke", text: name,
    }));
    svg.append(group);
  }
  container.replaceChildren(svg, legend(view.powers), leadersTable(view));
}

function drawBar(group, at, state) {
  const width = 14, height = 46;
  let top = at[1] - height / 2;
  for (const p of state.powers.slice().reverse()) {
    const h = height * p.share;
    if (h > 0) {
      group.append(svgEl("rect", { x: at[0] - width / 2, y: top, width: width, height: h, fill: p.color,
        stroke: "#ffffff", "stroke-width": "0.6" }));
    }
    top += h;
  }
  group.append(svgEl("rect", { x: at[0] - width / 2, y: at[1] - height / 2, width: width, height: height,
    fill: "none", stroke: "#222222", "stroke-width": "1" }));
}

/* The map's numbers as a table: who leads each state and every power's share. */
function leadersTable(view) {
  const head = el("tr", {}, [el("th", { scope: "col", text: "State" }), el("th", { scope: "col", text: "Leader" })]
    .concat(view.powers.map((p) => el("th", { scope: "col", class: "num", text: p.name + " share" }))));
  const rows = view.states.map((s) => el("tr", {}, [
    el("th", { scope: "row", text: s.name }),
    el("td", {}, [swatch(s.color), s.leader_name]),
  ].concat(s.powers.map((p) => el("td", { class: "num", text: percent(p.share) })))));
  const table = el("table", {}, [el("caption", { class: "visually-hidden", text: "Composite influence shares by state" }),
    el("thead", {}, [head]), el("tbody", {}, rows)]);
  return el("details", {}, [el("summary", { text: "The map as a table" }), scroller("The map as a table", table)]);
}

/* A wide table in a box that scrolls sideways on a phone (focusable, so a keyboard can scroll it too). */
function scroller(label, child) {
  return el("div", { class: "scroll", tabindex: "0", role: "region", "aria-label": label }, [child]);
}

/* Regional share of composite influence per power, quarter by quarter, over the whole period. */
function drawShares(container, view) {
  const tl = view.timeline;
  const W = 720, H = 300, left = 48, right = 110, top = 14, bottom = 34;
  const total = Math.max(tl.total, 1);
  const x = (k) => left + (W - left - right) * (k / Math.max(total - 1, 1));
  const y = (v) => top + (H - top - bottom) * (1 - v);
  const svg = svgEl("svg", { viewBox: "0 0 " + W + " " + H, class: "chart-svg", role: "img",
    "aria-labelledby": container.id + "-title" });
  svg.append(svgEl("title", { id: container.id + "-title",
    text: "Regional share of composite influence per power, " + tl.start + " to " + tl.end }));
  for (const v of [0, 0.25, 0.5, 0.75, 1]) {
    svg.append(svgEl("line", { x1: left, x2: W - right, y1: y(v), y2: y(v), stroke: "#dddddd" }));
    svg.append(svgEl("text", { x: left - 6, y: y(v) + 4, "text-anchor": "end", "font-size": "12", fill: "#333333",
      text: percent(v) }));
  }
  const startYear = parseInt(tl.start.slice(0, 4), 10), startQ = parseInt(tl.start.slice(5), 10) - 1;
  for (let k = 0; k < total; k++) {
    if ((startQ + k) % 4 === 0) {
      const year = startYear + Math.floor((startQ + k) / 4);
      svg.append(svgEl("line", { x1: x(k), x2: x(k), y1: H - bottom, y2: H - bottom + 5, stroke: "#333333" }));
      svg.append(svgEl("text", { x: x(k), y: H - bottom + 19, "text-anchor": "middle", "font-size": "12",
        fill: "#333333", text: String(year) }));
    }
  }
  const played = tl.quarters.length;
  if (played > 0) {
    svg.append(svgEl("rect", { x: left, y: top, width: Math.max(x(played - 1) - left, 1), height: H - top - bottom,
      fill: "#f1f5fa" }));
  }
  for (const p of view.powers) {
    const values = tl.shares[p.id] || [];
    if (!values.length) continue;
    const points = values.map((v, k) => x(k) + "," + y(v)).join(" ");
    svg.append(svgEl("polyline", { points: points, fill: "none", stroke: p.color, "stroke-width": "3" }));
    const last = values[values.length - 1];
    svg.append(svgEl("text", { x: x(values.length - 1) + 6, y: y(last) + 4, "font-size": "13", "font-weight": "700",
      fill: "#000000", text: p.name + " " + percent(last) }));
  }
  for (const e of tl.events) {
    const k = quarterIndex(tl.start, e.quarter);
    if (k < 0 || k >= total) continue;
    svg.append(svgEl("line", { x1: x(k), x2: x(k), y1: top, y2: H - bottom, stroke: "#777777",
      "stroke-dasharray": "3 3" }));
    svg.append(svgEl("text", { x: x(k), y: top - 2, "text-anchor": "middle", "font-size": "11", fill: "#333333",
      text: String(e.number) }));
  }
  container.replaceChildren(svg);
}

function quarterIndex(start, quarter) {
  const q = (s) => parseInt(s.slice(0, 4), 10) * 4 + parseInt(s.slice(5), 10) - 1;
  return q(quarter) - q(start);
}

function eventList(view) {
  const tl = view.timeline;
  if (!tl.events.length) return el("p", { class: "muted", text: "No scheduled event yet." });
  return el("ol", { class: "events" }, tl.events.map((e) => el("li", { value: String(e.number),
    text: e.quarter + ": " + e.title })));
}

function countdown(seconds) {
  if (seconds === null || seconds === undefined) return "";
  const s = Math.max(0, Math.round(seconds));
  return Math.floor(s / 60) + ":" + String(s % 60).padStart(2, "0");
}

/* What a turn did (server: explain.turn_report): who gained and lost, the events, each state and why. */
function reportBlock(report) {
  if (!report) return el("p", { class: "muted", text: "No turn has been played yet." });
  const events = report.events.length ? el("ul", {}, report.events.map((e) => el("li", {
    text: (e.number ? "(" + e.number + ") " : "") + e.quarter + ": " + e.title +
      (e.kind === "random" ? " (random)" : "") }))) : el("p", { class: "muted", text: "No event this turn." });
  /* one line per state; its reasons open on demand (open at once where the leader changed) */
  const states = el("ul", { class: "reasons" }, report.states.map((s) => el("li", {}, [
    el("details", s.switched ? { open: "open" } : {}, [el("summary", { text: s.headline +
      (s.reasons.length ? " Why?" : "") }), el("ul", {}, s.reasons.map((r) => el("li", { text: r })))]),
  ])));
  return el("div", {}, [
    el("p", { class: "big", text: "Turn " + report.turn + " (" + report.label + "): " + report.headline + "." }),
    el("h3", { text: "Events" }), events,
    el("h3", { text: "Each state, and why it changed" }), states,
  ]);
}

function budgetBlock(budget) {
  if (!budget || !budget.length) return el("p", { class: "muted", text: "" });
  return el("ul", {}, budget.map((b) => el("li", { text: b.sentence })));
}

function messagesBlock(view) {
  const items = (view.messages || []).slice(-5).reverse();
  return items.length ? el("ul", {}, items.map((m) => el("li", { text: m.at + ": " + m.text })))
    : el("p", { class: "muted", text: "No message from the teacher." });
}

/* The debrief (server: debrief.debrief): the class against the baseline plan, teams, turning points, questions. */
function debriefBlock(d) {
  if (!d) return el("p", { class: "muted", text: "" });
  const head = el("tr", {}, ["Power", "Class's game", "Baseline plan", "Difference (points)"].map((t) =>
    el("th", { scope: "col", text: t })));
  const rows = d.comparison.map((r) => el("tr", {}, [el("th", { scope: "row", text: r.name }),
    el("td", { class: "num", text: percent(r.game) }), el("td", { class: "num", text: percent(r.baseline_plan) }),
    el("td", { class: "num", text: (r.difference >= 0 ? "+" : "") + (100 * r.difference).toFixed(1) })]));
  return el("div", {}, [
    el("p", { class: "big", text: d.headline }),
    scroller("Regional share at the end", el("table", {}, [el("caption", { text: "Regional share at the end" }),
      el("thead", {}, [head]), el("tbody", {}, rows)])),
    el("h3", { text: "What each team did" }),
    el("ul", {}, d.teams.map((t) => el("li", {}, [el("strong", { text: t.name }), el("ul", {}, t.turns.map((x) =>
      el("li", { text: "Turn " + x.turn + " (" + x.label + "), " + x.who + ": " + x.sent })))]))),
    el("h3", { text: "Turning points" }),
    el("ul", {}, (d.turning_points.length ? d.turning_points : ["none"]).map((x) => el("li", { text: x }))),
    el("h3", { text: "Questions for the discussion" }),
    el("ol", {}, d.questions.map((x) => el("li", { text: x }))),
  ]);
}

/* Replay a finished game turn by turn: that turn's map and report. */
function replayBlock(container, view) {
  const turns = view.replay || [];
  if (!turns.length) { container.replaceChildren(); return; }
  let k = Number(container.dataset.turn || turns.length - 1);
  k = Math.min(Math.max(k, 0), turns.length - 1);
  container.dataset.turn = String(k);
  const turn = turns[k];
  const prev = el("button", { type: "button", class: "secondary", text: "Previous turn" });
  const next = el("button", { type: "button", class: "secondary", text: "Next turn" });
  prev.disabled = k === 0;
  next.disabled = k === turns.length - 1;
  prev.addEventListener("click", () => { container.dataset.turn = String(k - 1); replayBlock(container, view); });
  next.addEventListener("click", () => { container.dataset.turn = String(k + 1); replayBlock(container, view); });
  const map = el("div", { id: container.id + "-map" });
  container.replaceChildren(el("p", { "aria-live": "polite", text: "Turn " + turn.turn + " of " + turns.length +
    " (" + turn.label + ")" }), el("div", {}, [prev, next]), map, reportBlock(turn));
  drawMap(map, Object.assign({}, view, { states: turn.map }), "Map after turn " + turn.turn + ", " + turn.quarter);
}

window.Classroom = { el, svgEl, api, percent, number, swatch, legend, drawMap, drawShares, eventList, countdown,
  reportBlock, budgetBlock, messagesBlock, debriefBlock, replayBlock, scroller };
