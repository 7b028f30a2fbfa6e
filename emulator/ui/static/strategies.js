// The six ways to ask for a report, as the article and its fixes do it, from a browser.
// Each takes (api, definition, counts) and resolves to an outcome:
//   {ok: true, url}                        the report's presigned URL
//   {ok: false, status, text}              what the gateway or the app answered instead
// counts.requests and counts.messages are incremented as the page sends and receives.
// Wire contracts: README "The job API, polling and Server-Sent Events" and "The WebSocket API".

import { readEvents } from "./api.js";

/** Seconds between two short polls, emulated (reportclient's default). */
const SHORT_POLL_INTERVAL_S = 2;
/** A long poll's waitSeconds: the app caps it at 20 s, below the 29 s integration timeout. */
const LONG_POLL_WAIT_S = 20;

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function request(counts, url, options = {}) {
  counts.requests += 1;
  const response = await fetch(url, { cache: "no-store", ...options });
  return { response, text: await response.text() };
}

function json(text) {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function failure(status, text) {
  return { ok: false, status, text: text.trim() };
}

async function rest(api, definition, counts) {
  const { response, text } = await request(counts, `${api.restUrl}/reports`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(definition),
  });
  const body = json(text);
  if (response.ok && body && body.url) return { ok: true, url: body.url };
  return failure(response.status, text);
}

/** POST /reports/jobs: the job id, or a failure outcome. */
async function createJob(api, definition, counts) {
  const { response, text } = await request(counts, `${api.restUrl}/reports/jobs`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(definition),
  });
  const body = json(text);
  if (response.status === 202 && body && body.jobId) return { jobId: body.jobId };
  return { outcome: failure(response.status, text) };
}

function finished(job) {
  if (job.status === "succeeded") return { ok: true, url: job.url };
  if (job.status === "failed") return failure(200, `job failed: ${job.error}`);
  return null;
}

async function poll(api, definition, counts, query, pauseMs) {
  const created = await createJob(api, definition, counts);
  if (created.outcome) return created.outcome;
  for (;;) {
    if (pauseMs) await sleep(pauseMs);
    const url = `${api.restUrl}/reports/jobs/${created.jobId}${query}`;
    const { response, text } = await request(counts, url);
    const job = json(text);
    if (!response.ok || !job) return failure(response.status, text);
    const done = finished(job);
    if (done) return done;
  }
}

function shortPoll(api, definition, counts) {
  return poll(api, definition, counts, "", SHORT_POLL_INTERVAL_S * api.timeScale * 1000);
}

function longPoll(api, definition, counts) {
  return poll(api, definition, counts, `?waitSeconds=${LONG_POLL_WAIT_S}`, 0);
}

async function sse(api, definition, counts, path) {
  const created = await createJob(api, definition, counts);
  if (created.outcome) return created.outcome;
  counts.requests += 1;
  const url = `${api.restUrl}/reports/jobs/${created.jobId}${path}`;
  const response = await fetch(url, { cache: "no-store", headers: { Accept: "text/event-stream" } });
  if (!response.ok) return failure(response.status, await response.text());
  let outcome = null;
  await readEvents(response, ({ event, data }) => {
    const body = json(data) || {};
    if (event === "result" && body.url) outcome = { ok: true, url: body.url };
    else if (event === "error") outcome = failure(200, `job failed: ${body.error || data}`);
  });
  return outcome || failure(response.status, "the event stream ended without a result");
}

function websocket(api, definition, counts) {
  return new Promise((resolve) => {
    let outcome = null;
    const socket = new WebSocket(api.wsUrl);
    socket.onopen = () => {
      counts.messages += 1;
      socket.send(JSON.stringify({ action: "generateReport", ...definition }));
    };
    socket.onmessage = ({ data }) => {
      counts.messages += 1;
      const body = json(data) || {};
      if (body.url) outcome = { ok: true, url: body.url };
      else if (body.error) outcome = failure(200, `job failed: ${body.error}`);
      else if (body.message) outcome = failure(200, data);  // a gateway error on the route
      if (outcome) socket.close(1000);
    };
    // Resolved once closed, so the gateway has counted the close frames too.
    socket.onclose = ({ code, reason }) => {
      resolve(outcome || failure(0, `WebSocket closed (${code}${reason ? ` ${reason}` : ""})`));
    };
  });
}

export const STRATEGIES = {
  rest: { label: "REST", run: rest, wire: "rest" },
  short_poll: { label: "Short poll", run: shortPoll, wire: "rest" },
  long_poll: { label: "Long poll", run: longPoll, wire: "rest" },
  sse: { label: "SSE buffered", run: (a, d, c) => sse(a, d, c, "/events"), wire: "rest" },
  sse_stream: {
    label: "SSE streamed",
    run: (a, d, c) => sse(a, d, c, "/events/stream"),
    wire: "rest",
  },
  websocket: { label: "WebSocket", run: websocket, wire: "websocket" },
};
