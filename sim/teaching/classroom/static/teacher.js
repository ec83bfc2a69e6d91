/* The teacher's screen: create a room, then show its code, the map, the timeline and who has submitted. */
"use strict";
(function () {
  const C = window.Classroom;
  const $ = (id) => document.getElementById(id);
  let key = sessionStorage.getItem("classroom-key") || "";
  let room = JSON.parse(sessionStorage.getItem("classroom-room") || "null");
  let version = 0;
  let deadline = null;
  let lastView = null;

  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("key")) {
    key = hash.get("key");
    sessionStorage.setItem("classroom-key", key);
    history.replaceState(null, "", location.pathname);  // the key leaves the address bar (a projector shows it)
  }

  function fillTimers(select, timers, value) {
    select.replaceChildren(...timers.map((t) => C.el("option", { value: String(t),
      text: t === 0 ? "no timer" : (t < 60 ? t + " seconds" : (t / 60) + " minute" + (t === 60 ? "" : "s")) })));
    select.value = String(value);
  }

  async function setup() {
    try {
      const config = await C.api("/api/config", { headers: { "X-Teacher-Key": key } });
      $("scenario").replaceChildren(...config.scenarios.map((s) => C.el("option", { value: s, text: s })));
      $("scenario").value = config.default;
      fillTimers($("timer"), config.timers, 0);
      fillTimers($("next-timer"), config.timers, 0);
      $("resume").append(...config.games.map((g) => C.el("option", { value: g, text: g })));
      $("library-event").replaceChildren(...config.library.map((e) => C.el("option", { value: e.key,
        text: e.title + " (" + e.scenario + ")" })));
      if (room) showRoom(); else $("setup").hidden = false;
    } catch (err) {
      $("key-error").textContent = err.message + ". Open the teacher's address that `sim classroom` printed.";
      $("key-error").hidden = false;
    }
  }

  $("create-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("create-error").textContent = "";
    try {
      const made = await C.api("/api/rooms", { method: "POST", headers: { "X-Teacher-Key": key }, body: {
        scenario: $("scenario").value, turn_quarters: parseInt($("turn-length").value, 10),
        timer: parseInt($("timer").value, 10), assign: $("assign").checked, auto: $("auto").checked,
        team_cap: parseInt($("team-cap").value, 10) || 0, resume: $("resume").value || undefined,
      } });
      room = { code: made.code, token: made.token };
      sessionStorage.setItem("classroom-room", JSON.stringify(room));
      showRoom();
    } catch (err) {
      $("create-error").textContent = err.message;
    }
  });

  function showRoom() {
    $("setup").hidden = true;
    $("room").hidden = false;
    $("code").textContent = room.code;
    $("student-url").textContent = location.origin + "/";
    poll();
    setInterval(poll, 1000);
    setInterval(tickTimer, 250);
  }

  function headers() { return { "X-Room-Token": room.token }; }

  async function action(name, body) {
    $("room-error").textContent = "";
    try {
      return await C.api("/api/rooms/" + room.code + "/" + name, { method: "POST", headers: headers(), body: body || {} });
    } catch (err) {
      $("room-error").textContent = err.message;
      return null;
    } finally {
      poll();
    }
  }

  $("advance").addEventListener("click", () => action("advance"));
  $("end").addEventListener("click", () => {
    if (window.confirm("End the game for everyone? The game played so far stays saved.")) action("end");
  });
  $("save").addEventListener("click", async () => {
    const saved = await action("save");
    if (saved) $("saved").textContent = "Saved: " + saved.path;
  });
  for (const id of ["next-length", "next-timer", "next-auto", "next-cap"]) {
    $(id).addEventListener("change", () => action("settings", {
      turn_quarters: parseInt($("next-length").value, 10), timer: parseInt($("next-timer").value, 10),
      auto: $("next-auto").checked, team_cap: parseInt($("next-cap").value, 10) || 0,
    }));
  }
  $("locked").addEventListener("change", () => action("settings", { locked: $("locked").checked }));
  $("pause").addEventListener("click", () => action("pause", { paused: !(lastView && lastView.paused) }));
  $("set-deadline").addEventListener("click", () => action("deadline",
    { minutes: Number($("deadline-minutes").value) || 0 }));
  $("send-message").addEventListener("click", async () => {
    if (await action("message", { text: $("message-text").value })) $("message-text").value = "";
  });
  async function inject(body) {
    $("inject-status").textContent = "";
    if (await action("inject", body)) $("inject-status").textContent = "Added to this turn.";
  }
  $("inject-library").addEventListener("click", () => inject({ library: $("library-event").value }));
  $("inject-custom").addEventListener("click", () => inject({ custom: {
    kind: $("custom-kind").value, power: $("custom-power").value, channel: $("custom-channel").value,
    state: $("custom-state").value, states: [$("custom-state").value, $("custom-other").value],
    value: Number($("custom-value").value), quarters: parseInt($("custom-quarters").value, 10) || 0,
    title: $("custom-title").value } }));
  $("captains").addEventListener("change", () => action("captains", { on: $("captains").checked }));

  let polling = false;
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const view = await C.api("/api/rooms/" + room.code + "/teacher?v=" + version, { headers: headers() });
      if (!view.unchanged) render(view);
    } catch (err) {
      if (err.status === 403) {
        sessionStorage.removeItem("classroom-room");
        $("room-error").textContent = "This room is gone (idle for 12 hours, or the server was started without " +
          "its journal). Reload to create a new one.";
      }
    } finally {
      polling = false;
    }
  }

  function tickTimer() {
    if (!lastView) return;
    if (deadline === null) { $("timer-text").textContent = ""; return; }
    $("timer-text").textContent = "(" + C.countdown((deadline - Date.now()) / 1000) + " left)";
  }

  function render(view) {
    version = view.version;
    lastView = view;
    deadline = view.remaining === null ? null : Date.now() + view.remaining * 1000;
    $("scenario-title").textContent = "Scenario: " + view.scenario.title;
    if (view.status === "over") {
      $("turn-text").textContent = "The game is over.";
      $("advance").disabled = true;
      $("end").disabled = true;
    } else {
      $("turn-text").textContent = "Turn " + view.turn.number + ": " + view.turn.label;
    }
    $("submitted-text").textContent = view.submitted + " of " + view.students + " students have submitted" +
      (view.students ? "" : " (nobody has joined yet: the model plays every power)");
    $("room-error").textContent = view.error || "";
    if (view.saved) $("saved").textContent = "Saved after every turn: " + view.saved;
    syncSettings(view.settings);
    renderSeats(view);
    C.drawMap($("map"), view, "Map of the five states coloured by the leading power, " + view.quarter);
    $("map-title").textContent = "Who leads each state (" + view.quarter + ")";
    C.drawShares($("shares"), view);
    $("events").replaceChildren(C.eventList(view));
    renderTools(view);
    $("plans").replaceChildren(...(view.plans.length ? view.plans.map(planTable) :
      [C.el("p", { class: "muted", text: "No team yet: the model plays every power." })]));
    $("report").replaceChildren(C.reportBlock(view.report));
    $("debrief-panel").hidden = !view.debrief;
    if (view.debrief) {
      $("debrief").replaceChildren(C.debriefBlock(view.debrief));
      $("debrief-path").textContent = view.debrief_report ? "The debrief report is saved as " + view.debrief_report : "";
      C.replayBlock($("replay"), view);
    }
    $("random").replaceChildren(...(view.timeline.random.length ? view.timeline.random.map((e) =>
      C.el("li", { text: e.quarter + ": " + e.title })) : [C.el("li", { class: "muted", text: "none" })]));
    tickTimer();
  }

  function fillSelect(select, options) {
    if (select.options.length === options.length) return;
    select.replaceChildren(...options.map((o) => C.el("option", { value: o.id, text: o.name })));
  }

  function renderTools(view) {
    $("paused-banner").hidden = !view.paused;
    $("pause").textContent = view.paused ? "Carry on" : "Pause the game";
    $("deadline-text").textContent = view.deadline ? "This turn runs at " +
      new Date(view.deadline * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" }) + "." : "";
    $("messages").replaceChildren(C.messagesBlock(view));
    fillSelect($("custom-power"), view.powers);
    fillSelect($("custom-state"), view.states);
    fillSelect($("custom-other"), view.states);
    if (document.activeElement !== $("captains")) $("captains").checked = view.settings.captains;
    const empty = view.powers.filter((p) => p.playable && !p.students);
    $("bots").replaceChildren(...(empty.length ? empty.map((p) => {
      const box = C.el("input", Object.assign({ type: "checkbox", id: "bot-" + p.id },
        view.bots.includes(p.id) ? { checked: "checked" } : {}));
      box.addEventListener("change", () => action("bot", { power: p.id, on: box.checked }));
      return C.el("p", {}, [C.el("label", { class: "inline", for: "bot-" + p.id }, [box,
        "A bot plays " + p.name + " (defends where it leads, contests where it is close)"])]);
    }) : [C.el("p", { class: "muted", text: "Every team has students." })]));
    const teams = view.powers.filter((p) => p.students);
    $("captain-choice").replaceChildren(...(view.settings.captains ? teams.map((p) => {
      const select = C.el("select", { id: "captain-" + p.id }, view.seats.filter((s) => s.power === p.id).map((s) =>
        C.el("option", { value: s.id, text: s.name })));
      const plan = view.plans.find((x) => x.power === p.id);
      const current = view.seats.find((s) => plan && s.name === plan.captain && s.power === p.id);
      if (current) select.value = current.id;
      select.addEventListener("change", () => action("captains", { seat: select.value }));
      return C.el("div", {}, [C.el("label", { for: "captain-" + p.id, text: p.name + "'s captain" }), select]);
    }) : []));
  }

  function planTable(plan) {
    const channels = Object.keys(plan.limits);
    const who = plan.bot ? "played by the bot" : (plan.captain ? "captain " + plan.captain + "; " : "") +
      plan.submitted + " of " + plan.members + " submitted, " + plan.counted + " counted";
    const head = C.el("tr", {}, [C.el("th", { scope: "col", text: "State" })].concat(channels.map((c) =>
      C.el("th", { scope: "col", class: "num", text: c }))));
    const rows = plan.states.map((r) => C.el("tr", {}, [C.el("th", { scope: "row", text: r.state })].concat(
      channels.map((c) => C.el("td", { class: "num", text: C.number(r[c]) })))));
    const total = C.el("tr", {}, [C.el("th", { scope: "row", text: "Budget" })].concat(channels.map((c) =>
      C.el("td", { class: "num", text: C.number(plan.limits[c]) }))));
    return C.scroller(plan.name + "'s plan", C.el("table", {}, [C.el("caption", { text: plan.name + " (" + who + ")" }),
      C.el("thead", {}, [head]), C.el("tbody", {}, rows), C.el("tfoot", {}, [total])]));
  }

  function syncSettings(settings) {
    const active = document.activeElement;
    if (active !== $("next-length")) $("next-length").value = String(settings.turn_quarters);
    if (active !== $("next-timer")) $("next-timer").value = String(settings.timer);
    if (active !== $("next-auto")) $("next-auto").checked = settings.auto;
    if (active !== $("next-cap")) $("next-cap").value = String(settings.team_cap);
    if (active !== $("locked")) $("locked").checked = settings.locked;
  }

  function renderSeats(view) {
    const colors = Object.fromEntries(view.powers.map((p) => [p.id, p.color]));
    $("seats").replaceChildren(...view.seats.map((s) => C.el("tr", {}, [
      C.el("th", { scope: "row", text: s.name }),
      C.el("td", { class: "nowrap" }, [C.swatch(colors[s.power]), s.power_name]),
      C.el("td", { class: s.submitted ? "ok" : "", text: s.submitted ? "submitted" : "not yet" }),
      C.el("td", { text: s.connected ? "online" : "away" }),
      C.el("td", {}, [removeButton(s)]),
    ])));
    $("teams").replaceChildren(...view.powers.filter((p) => p.playable).map((p) =>
      C.el("li", {}, [C.swatch(p.color), p.name + ": " + (p.students ? p.students + " student" +
        (p.students === 1 ? "" : "s") : (view.bots.includes(p.id) ? "played by the bot" : "played by the model"))])));
  }

  function removeButton(seat) {
    const button = C.el("button", { type: "button", class: "secondary", text: "Remove",
      "aria-label": "Remove " + seat.name + " (" + seat.power_name + ")" });
    button.addEventListener("click", () => {
      if (window.confirm("Remove " + seat.name + " from the game? Their seat and rejoin code stop working.")) {
        action("remove", { seat: seat.id });
      }
    });
    return button;
  }

  setup();
})();
