/* A student's screen: join with the room code, then split the power's budget each turn and watch the map. */
"use strict";
(function () {
  const C = window.Classroom;
  const $ = (id) => document.getElementById(id);
  const UNITS = { aid: "USD m", drills: "personnel", security: "personnel" };
  let token = localStorage.getItem("classroom-seat") || "";
  let version = 0;
  let formTurn = null;
  let lastView = null;
  let deadline = null;
  let looked = null;  // the room found for the typed code

  function headers() { return { "X-Seat-Token": token }; }

  $("join-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("join-error").textContent = "";
    const code = $("room-code").value.trim();
    const rejoin = $("rejoin-code").value.trim();
    try {
      if (!looked || looked.typed !== code) {
        looked = await C.api("/api/lookup", { method: "POST", body: { code: code } });
        looked.typed = code;
        if (!rejoin && !looked.assign) {
          showChoices(looked.powers);
          $("join-error").textContent = "Choose your power, then press Join.";
          return;
        }
      }
      const chosen = document.querySelector("input[name=power]:checked");
      const body = rejoin ? { code: code, rejoin: rejoin } : { code: code, name: $("student-name").value,
        power: chosen ? chosen.value : null };
      if (!rejoin && !looked.assign && !chosen) {
        $("join-error").textContent = "Choose your power, then press Join.";
        return;
      }
      const seat = await C.api("/api/join", { method: "POST", body: body });
      token = seat.token;
      localStorage.setItem("classroom-seat", token);
      startPlay();
    } catch (err) {
      looked = null;
      $("join-error").textContent = err.message;
    }
  });

  function showChoices(powers) {
    $("power-options").replaceChildren(...powers.map((p, k) => C.el("label", { class: "inline" }, [
      C.el("input", Object.assign({ type: "radio", name: "power", value: p.id, id: "power-" + p.id },
        k === 0 ? { required: "required" } : {}, p.full ? { disabled: "disabled" } : {})),
      C.swatch(p.color), p.name + (p.full ? " (team full)" : ""),
    ])));
    $("power-choice").hidden = false;
  }

  async function resume() {
    if (!token) return;
    try {
      const view = await C.api("/api/seat", { headers: headers() });
      render(view);
      startPlay(true);
    } catch (err) {
      if (err.status === 401) {  // the seat is gone; a server being restarted keeps it (no status)
        localStorage.removeItem("classroom-seat");
        token = "";
      } else {
        startPlay();
      }
    }
  }

  let started = false;
  function startPlay(rendered) {
    $("join").hidden = true;
    $("play").hidden = false;
    if (!rendered) poll();
    if (!started) {
      started = true;
      setInterval(poll, 1000);
      setInterval(tickTimer, 250);
    }
  }

  let polling = false;
  async function poll() {
    if (polling) return;
    polling = true;
    try {
      const view = await C.api("/api/seat?v=" + version, { headers: headers() });
      if (!view.unchanged) render(view);
    } catch (err) {
      if (err.status === 401) {
        localStorage.removeItem("classroom-seat");
        $("status").textContent = err.message;
        $("join").hidden = false;
        $("play").hidden = true;
      }
    } finally {
      polling = false;
    }
  }

  function tickTimer() {
    $("timer-text").textContent = deadline === null ? "" :
      "Time left this turn: " + C.countdown((deadline - Date.now()) / 1000);
  }

  function render(view) {
    version = view.version;
    lastView = view;
    deadline = view.remaining === null ? null : Date.now() + view.remaining * 1000;
    const seat = view.seat;
    const badge = $("power-badge");
    badge.textContent = seat.power_name;
    const me = view.powers.find((p) => p.id === seat.power);
    badge.style.background = seat.color;
    badge.style.color = me ? me.text : "#000000";
    $("team").textContent = "Your team: " + seat.team.join(", ") + ". " + (seat.captain ? (seat.is_captain ?
      "You are the captain: your plan is the team's." : "Your captain is " + seat.captain +
      ": the captain's plan is the team's.") : "The team's allocation is the average of yours.");
    $("paused-banner").hidden = !view.paused;
    $("messages").replaceChildren(C.messagesBlock(view));
    $("report").replaceChildren(C.reportBlock(view.report));
    $("budget").replaceChildren(C.budgetBlock(view.budget));
    $("debrief-panel").hidden = !view.debrief;
    if (view.debrief) {
      $("debrief").replaceChildren(C.debriefBlock(view.debrief));
      C.replayBlock($("replay"), view);
    }
    $("rejoin-shown").textContent = seat.rejoin;
    if (view.status === "over") {
      $("turn-text").textContent = "The game is over. Thank you for playing!";
      $("status").textContent = "";
      setFormEnabled(false);
    } else {
      $("turn-text").textContent = "Turn " + view.turn.number + ": " + view.turn.label;
      $("status").textContent = seat.submitted ? "Submitted. Waiting for the others (" + view.submitted + " of " +
        view.students + "); you can still change it." : "Not submitted yet for this turn.";
      if (formTurn !== view.turn.number) buildForm(view);
      setFormEnabled(!view.paused);
    }
    renderInfluence(view);
    C.drawMap($("map"), view, "Map of the five states coloured by the leading power, " + view.quarter);
    $("map-title").textContent = "Who leads each state (" + view.quarter + ")";
    tickTimer();
  }

  function setFormEnabled(on) {
    for (const input of document.querySelectorAll("#alloc-form input, #alloc-form button")) input.disabled = !on;
  }

  function buildForm(view) {
    formTurn = view.turn.number;
    $("alloc-error").textContent = "";
    $("alloc-title").textContent = "Split " + view.seat.power_name + "'s budget for " + view.turn.label;
    $("alloc-head").replaceChildren(C.el("tr", {}, [C.el("th", { scope: "col", text: "State" })].concat(
      view.channels.map((c) => C.el("th", { scope: "col", class: "num", text: c + " (" + UNITS[c] + ")" })))));
    const states = Object.keys(view.allocation);
    $("alloc-body").replaceChildren(...states.map((s) => C.el("tr", {}, [C.el("th", { scope: "row",
      text: view.state_names[s] })].concat(view.channels.map((c) => C.el("td", { class: "num", "data-label": c + " (" + UNITS[c] + ")" }, [
      C.el("input", { type: "number", min: "0", step: "any", inputmode: "decimal", "data-state": s,
        "data-channel": c, id: "a-" + s + "-" + c, value: String(view.allocation[s][c]),
        "aria-label": view.state_names[s] + ", " + c + " in " + UNITS[c] }),
    ]))))));
    $("alloc-foot").replaceChildren(C.el("tr", {}, [C.el("th", { scope: "row", text: "Allocated of budget" })].concat(
      view.channels.map((c) => C.el("td", { class: "num", id: "total-" + c, "data-label": c,
        "aria-live": "polite" })))));
    updateTotals();
  }

  function amounts() {
    const out = {};
    for (const input of document.querySelectorAll("#alloc-body input")) {
      const s = input.dataset.state, c = input.dataset.channel;
      out[s] = out[s] || {};
      out[s][c] = input.value === "" ? 0 : Number(input.value);
    }
    return out;
  }

  function updateTotals() {
    if (!lastView) return;
    const a = amounts();
    for (const c of lastView.channels) {
      const total = Object.values(a).reduce((sum, row) => sum + (Number.isFinite(row[c]) ? row[c] : 0), 0);
      const limit = lastView.limits[c];
      const cell = $("total-" + c);
      cell.textContent = C.number(total) + " of " + C.number(limit) + (total > limit + 1e-6 ? " (over budget)" : "");
      cell.className = "num" + (total > limit + 1e-6 ? " over" : "");
    }
  }

  $("alloc-form").addEventListener("input", updateTotals);

  $("even-button").addEventListener("click", () => {
    const inputs = document.querySelectorAll("#alloc-body input");
    const n = new Set(Array.from(inputs).map((i) => i.dataset.state)).size;
    for (const input of inputs) {
      input.value = String(Math.floor(lastView.limits[input.dataset.channel] / n * 100) / 100);
    }
    updateTotals();
  });

  $("alloc-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    $("alloc-error").textContent = "";
    try {
      await C.api("/api/seat/allocation", { method: "POST", headers: headers(),
        body: { turn: formTurn, allocation: amounts() } });
      $("status").textContent = "Submitted. You can change it until the turn runs.";
      poll();
    } catch (err) {
      $("alloc-error").textContent = "Not accepted: " + err.message;
      if (err.status === 422 && lastView && lastView.turn.number !== formTurn) formTurn = null;
    }
  });

  function renderInfluence(view) {
    const me = view.seat.power;
    $("influence").replaceChildren(...view.states.map((s) => {
      const sorted = s.powers.slice().sort((a, b) => b.composite - a.composite);
      const mine = s.powers.find((p) => p.id === me);
      const rank = sorted.findIndex((p) => p.id === me) + 1;
      return C.el("tr", {}, [
        C.el("th", { scope: "row", text: s.name }),
        C.el("td", { class: "num", text: C.percent(mine.share) }),
        C.el("td", { class: "num", text: rank + " of " + sorted.length }),
        C.el("td", {}, [C.swatch(s.color), s.leader_name]),
      ]);
    }));
  }

  resume();
})();
