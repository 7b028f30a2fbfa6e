// The emulator as the page reaches it: its ports (from /_emulator/health), its control plane
// (with the --control-token bearer when the user gave one), and Server-Sent Events read over
// fetch (EventSource can neither send a header nor show an error's status and body).

const TOKEN_KEY = "timeoutlab-control-token";

/** Thrown when the control plane answers 401: the page must ask for the token. */
export class TokenNeeded extends Error {}

export function token() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(value) {
  if (value) sessionStorage.setItem(TOKEN_KEY, value);
  else sessionStorage.removeItem(TOKEN_KEY);
}

/** fetch() of a control-plane path (same origin), with the bearer token when there is one. */
export async function control(path, options = {}) {
  const headers = { ...(options.headers || {}) };
  if (token()) headers.Authorization = `Bearer ${token()}`;
  const response = await fetch(`/_emulator${path}`, { ...options, headers });
  if (response.status === 401) throw new TokenNeeded(path);
  return response;
}

export async function controlJson(path, options = {}) {
  const response = await control(path, options);
  const body = await response.json();
  if (!response.ok) throw new Error(body.message || `${path}: HTTP ${response.status}`);
  return body;
}

function portOf(url, fallback) {
  if (!url) return fallback;
  const port = new URL(url).port;
  return port || fallback;
}

/**
 * The APIs' URLs as this browser reaches them: the page's own host name (so the page works
 * under Compose or through a port mapping that keeps the port numbers) and the ports the
 * emulator says it serves on. Raises when health cannot be read.
 */
export async function emulator() {
  const response = await fetch("/_emulator/health");
  if (!response.ok) throw new Error(`/_emulator/health: HTTP ${response.status}`);
  const health = await response.json();
  const secure = location.protocol === "https:";
  const host = location.hostname.includes(":") ? `[${location.hostname}]` : location.hostname;
  const httpPort = location.port || (secure ? "443" : "80");
  const wsPort = portOf(health.websocket_api, String(Number(httpPort) + 1));
  return {
    health,
    timeScale: Number(health.time_scale) || 1,
    stage: health.stage,
    // Same origin as the page: relative to it.
    restUrl: `/${health.stage}`,
    wsUrl: `${secure ? "wss" : "ws"}://${host}:${wsPort}/${health.stage}`,
  };
}

/**
 * Reads a text/event-stream response body, calling onEvent({event, data, id}) for each event
 * (WHATWG HTML, "Server-sent events", event stream interpretation). Resolves at the stream's
 * end; rejects if the connection breaks. signal (optional) aborts the read.
 */
export async function readEvents(response, onEvent) {
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = "";
  let current = { event: "message", data: [], id: null };
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += value;
    let newline;
    while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
      const line = buffer.slice(0, newline);
      buffer = buffer.slice(newline + (buffer.startsWith("\r\n", newline) ? 2 : 1));
      if (line === "") {
        if (current.data.length) {
          onEvent({ event: current.event, data: current.data.join("\n"), id: current.id });
        }
        current = { event: "message", data: [], id: null };
        continue;
      }
      if (line.startsWith(":")) continue;
      const colon = line.indexOf(":");
      const field = colon < 0 ? line : line.slice(0, colon);
      let text = colon < 0 ? "" : line.slice(colon + 1);
      if (text.startsWith(" ")) text = text.slice(1);
      if (field === "data") current.data.push(text);
      else if (field === "event") current.event = text;
      else if (field === "id") current.id = text;
    }
  }
}
