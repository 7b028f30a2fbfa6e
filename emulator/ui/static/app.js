// The page: ask for a report by one of six strategies and watch the 29 s wall; the live view
// of the gateway and Lambda; each route's integration timeout, changed through the control API.

import { TokenNeeded, control, controlJson, emulator, readEvents, setToken, token } from "./api.js";
import { STRATEGIES } from "./strategies.js";

const $ = (selector, root = document) => root.querySelector(selector);
const LIVE_RETRY_MS = 2000;
/** Real seconds the page waits for a run's Lambdas to end before it gives up on their time. */
const SETTLE_LIMIT_S = 300;

let api = null;
let runs = 0;

function seconds(value) {
  return Number(value).toFixed(2);
}

function showTokenBox(reason) {
  $("#token-box").hidden = false;
  if (reason) $("#token").placeholder = reason;
}

// --- figures from /_emulator/metrics ---------------------------------------------------------

/** The metrics snapshot, or null when it cannot be read (the token box is shown if needed). */
async function metrics() {
  try {
    return await controlJson("/metrics");
  } catch (error) {
    if (error instanceof TokenNeeded) showTokenBox("control token (for the figures)");
    return null;
  }
}

function wireBytes(snapshot, kind) {
  if (kind === "websocket") {
    const ws = snapshot.websocket;
    return { up: ws.wire_bytes_in, down: ws.wire_bytes_out };
  }
  const rest = (snapshot.http_port || {}).rest || {};
  return { up: rest.wire_bytes_in || 0, down: rest.wire_bytes_out || 0 };
}

function lambdaTotals(snapshot) {
  const totals = { billed: 0, wasted: 0, running: 0 };
  for (const fn of Object.values(snapshot.lambda.functions)) {
    totals.billed += fn.billed_ms;
    totals.wasted += fn.wasted_ms;
    totals.running += fn.running;
  }
  return totals;
}

// --- one run -----------------------------------------------------------------------------------

function addRow(name, definition) {
  runs += 1;
  const row = document.createElement("tr");
  row.id = `run-${runs}`;
  row.dataset.strategy = name;
  row.dataset.state = "running";
  const cells = ["n", "strategy", "delay", "time", "outcome", "requests", "messages",
    "bytes-up", "bytes-down", "billed", "wasted"];
  for (const cell of cells) {
    const td = document.createElement("td");
    td.className = cell;
    row.append(td);
  }
  $(".n", row).textContent = runs;
  $(".strategy", row).textContent = STRATEGIES[name].label;
  $(".delay", row).textContent = `${definition.delay / 1000} s`;
  $(".outcome", row).textContent = "waiting…";
  $(".outcome", row).classList.add("running");
  $("#runs tbody").prepend(row);
  return row;
}

function showOutcome(row, outcome) {
  const cell = $(".outcome", row);
  cell.classList.remove("running");
  cell.textContent = "";
  if (outcome.ok) {
    cell.classList.add("ok");
    const link = document.createElement("a");
    link.href = outcome.url;
    link.className = "report-link";
    link.download = "report.csv";
    link.textContent = "download the CSV";
    cell.append("delivered: ", link);
  } else {
    cell.classList.add("error");
    const status = document.createElement("strong");
    status.className = "status";
    status.textContent = outcome.status ? String(outcome.status) : "failed";
    const body = document.createElement("code");
    body.className = "body";
    body.textContent = outcome.text;
    cell.append(status, " ", body);
  }
}

async function run(name) {
  const definition = {
    delay: Math.round(Number($("#delay").value)),
    amountOfRows: Math.round(Number($("#rows").value)),
  };
  setBusy(true);
  const row = addRow(name, definition);
  const strategy = STRATEGIES[name];
  const before = await metrics();
  const counts = { requests: 0, messages: 0 };
  const started = performance.now();
  const elapsed = () => (performance.now() - started) / 1000 / api.timeScale;
  const ticker = setInterval(() => { $(".time", row).textContent = seconds(elapsed()); }, 50);
  let outcome;
  try {
    outcome = await strategy.run(api, definition, counts);
  } catch (error) {
    outcome = { ok: false, status: 0, text: String(error) };
  }
  clearInterval(ticker);
  $(".time", row).textContent = seconds(elapsed());
  showOutcome(row, outcome);
  $(".requests", row).textContent = counts.requests;
  $(".messages", row).textContent = counts.messages;
  row.dataset.state = "answered";
  const after = await metrics();
  if (before && after) {
    const [up, down] = [wireBytes(before, strategy.wire), wireBytes(after, strategy.wire)];
    $(".bytes-up", row).textContent = down.up - up.up;
    $(".bytes-down", row).textContent = down.down - up.down;
    $(".billed", row).textContent = "…";
    $(".wasted", row).textContent = "…";
    const settled = await settle(before, strategy);
    if (settled) {
      const [b, a] = [lambdaTotals(before), lambdaTotals(settled)];
      $(".billed", row).textContent = seconds((a.billed - b.billed) / 1000);
      $(".wasted", row).textContent = seconds((a.wasted - b.wasted) / 1000);
    } else {
      // Still running after SETTLE_LIMIT_S (a long report at a slow time scale): not known.
      $(".billed", row).textContent = "n/a";
      $(".wasted", row).textContent = "n/a";
    }
  } else {
    for (const cell of ["bytes-up", "bytes-down", "billed", "wasted"]) {
      $(`.${cell}`, row).textContent = "token?";
    }
  }
  row.dataset.state = "settled";
  setBusy(false);
}

function disconnects(snapshot) {
  return snapshot.websocket.route_invocations.$disconnect || 0;
}

/**
 * The metrics once no Lambda runs (a REST 504's Lambda runs on to its end) and, after a
 * WebSocket run, once its connection's $disconnect route has run too (it starts after the page
 * saw the close); null when they cannot be read or SETTLE_LIMIT_S passes first.
 */
async function settle(before, strategy) {
  const waitDisconnect = strategy.wire === "websocket"
    && (api.health.websocket_routes || []).includes("$disconnect");
  const deadline = performance.now() + SETTLE_LIMIT_S * 1000;
  while (performance.now() < deadline) {
    const snapshot = await metrics();
    if (!snapshot) return null;
    const disconnected = !waitDisconnect || disconnects(snapshot) > disconnects(before);
    if (disconnected && lambdaTotals(snapshot).running === 0) return snapshot;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return null;
}

function setBusy(busy) {
  for (const button of document.querySelectorAll("#strategies button")) button.disabled = busy;
}

// --- live view ---------------------------------------------------------------------------------

const live = {};
let following = false;

function renderLive(changed) {
  Object.assign(live, changed);
  for (const [key, value] of Object.entries(changed)) {
    const dd = document.getElementById(`live-${key}`);
    if (!dd) continue;
    dd.textContent = key.endsWith("_ms") ? seconds(value / 1000) : value;
    dd.classList.add("changed");
    setTimeout(() => dd.classList.remove("changed"), 600);
  }
  const running = Object.entries(live.running || {});
  $("#live-running").textContent = running.length
    ? `running now: ${running.map(([fn, n]) => `${fn} × ${n}`).join(", ")}`
    : "no Lambda running";
}

async function followLive() {
  if (following) return;
  following = true;
  for (;;) {
    try {
      const response = await control("/live", { headers: { Accept: "text/event-stream" } });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      $("#live-status").textContent = "live";
      await readEvents(response, ({ event, data }) => {
        if (event === "live") renderLive(JSON.parse(data));
      });
      $("#live-status").textContent = "stream ended; reconnecting…";
    } catch (error) {
      if (error instanceof TokenNeeded) {
        $("#live-status").textContent = "needs the control token";
        showTokenBox("control token");
        following = false;
        return;  // followed again once a token is given
      }
      $("#live-status").textContent = `disconnected (${error.message}); reconnecting…`;
    }
    await new Promise((resolve) => setTimeout(resolve, LIVE_RETRY_MS));
  }
}

// --- route timeouts ----------------------------------------------------------------------------

async function loadRoutes() {
  let config;
  try {
    config = await controlJson("/config");
  } catch (error) {
    if (error instanceof TokenNeeded) {
      $("#routes-status").textContent = "needs the control token";
      showTokenBox("control token");
      return;
    }
    $("#routes-status").textContent = error.message;
    return;
  }
  const body = $("#routes tbody");
  body.textContent = "";
  const rows = [
    ...Object.entries(config.routes).map(([key, r]) => ["routes", key, r]),
    ...Object.entries(config.httpApiRoutes || {}).map(([key, r]) => ["httpApiRoutes", key, r]),
  ];
  for (const [group, key, route] of rows) {
    const row = document.createElement("tr");
    row.dataset.route = key;
    row.dataset.group = group;
    const cells = [key, seconds(route.integrationTimeout), route.source];
    for (const text of cells) {
      const td = document.createElement("td");
      td.textContent = text;
      row.append(td);
    }
    const input = document.createElement("input");
    input.type = "number";
    input.min = "0.05";
    input.step = "any";
    input.value = route.integrationTimeout;
    const set = document.createElement("button");
    set.type = "button";
    set.className = "set-timeout";
    set.textContent = "Set";
    set.onclick = () => setTimeoutOf(group, key, Number(input.value));
    const reset = document.createElement("button");
    reset.type = "button";
    reset.className = "reset-timeout";
    reset.textContent = "Default";
    reset.disabled = route.source === "default";
    reset.onclick = () => setTimeoutOf(group, key, null);
    const inputCell = document.createElement("td");
    inputCell.append(input);
    const buttons = document.createElement("td");
    buttons.append(set, " ", reset);
    row.append(inputCell, buttons);
    body.append(row);
  }
}

async function setTimeoutOf(group, key, value) {
  try {
    await controlJson("/config", {
      method: "PUT",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ [group]: { [key]: value } }),
    });
    $("#routes-status").textContent =
      value === null ? `${key}: back to the default` : `${key}: ${value} s from the next request`;
  } catch (error) {
    $("#routes-status").textContent = error instanceof TokenNeeded
      ? "needs the control token" : error.message;
  }
  await loadRoutes();
}

// --- start -------------------------------------------------------------------------------------

async function start() {
  try {
    api = await emulator();
  } catch (error) {
    $("#emulator-info").textContent = `The emulator cannot be reached: ${error.message}`;
    return;
  }
  const h = api.health;
  $("#emulator-info").textContent =
    `${h.service}, stage ${h.stage}: REST ${location.origin}${api.restUrl}, WebSocket ` +
    `${api.wsUrl}; time scale ${api.timeScale} (times below are emulated seconds); ` +
    `integration timeout ${h.integration_timeout_s} s.`;
  for (const button of document.querySelectorAll("#strategies button")) {
    button.onclick = () => run(button.dataset.strategy);
  }
  document.body.dataset.ready = "true";
  $("#token-form").onsubmit = (submitted) => {
    submitted.preventDefault();
    setToken($("#token").value.trim());
    $("#token-box").hidden = Boolean(token());
    loadRoutes();
    followLive();
  };
  loadRoutes();
  followLive();
}

start();
