// timeoutlab's Node.js bootstrap: one Lambda execution environment's runtime, speaking the Lambda
// Runtime API. No dependencies (Node.js built-in modules only), ESM, Node.js >= 18.
//
// Why ours and not AWS's `aws-lambda-ric`: every published version builds native code on install
// (node-gyp, cmake and autotools to compile a bundled curl; 3.3.0 fails on a machine without
// `autoreconf`), and 4.x declares Node.js >= 22. This file follows the documented contract:
//   [API]    https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html
//   [CUSTOM] https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html
//   [CTX]    https://docs.aws.amazon.com/lambda/latest/dg/nodejs-context.html
//   [HANDLER] https://docs.aws.amazon.com/lambda/latest/dg/nodejs-handler.html
//   [STREAM] https://docs.aws.amazon.com/lambda/latest/dg/runtimes-custom.html#runtimes-custom-response-streaming
// and, where the documentation is silent, what the Node.js runtime on AWS observably does (the
// error body's `trace`, callback semantics), as `aws-lambda-ric` 3.x implements it.
//
// timeoutlab only: TIMEOUTLAB_TIME_SCALE (unset on AWS) makes getRemainingTimeInMillis() answer
// in emulated milliseconds; the deadline header itself is a real wall-clock epoch.
// TIMEOUTLAB_LIFELINE_FD (removed before the handler loads) names the read end of the emulator's
// lifeline: at its end-of-file the emulator is gone, however it ended (SIGKILL included), and
// this environment's process group is killed (emulator/lifeline.py explains the mechanism).
// On Linux the process is a child subreaper (the emulator starts node through a shim that sets it;
// emulator/runtime/process_tree.py explains why), so what a handler starts stays in its tree even
// when it detaches or is double-forked; the lifeline's end and the runtime's exit end that tree
// (`endDescendants`), as on AWS, where the whole environment goes with its runtime.

import fs from "node:fs";
import http from "node:http";
import net from "node:net";
import { createRequire } from "node:module";
import path from "node:path";
import { Writable } from "node:stream";
import { pathToFileURL } from "node:url";

// [API] "The runtime ... uses the AWS_LAMBDA_RUNTIME_API environment variable" as host:port;
// every path is under the 2018-06-01 API version.
const API = `http://${process.env.AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime`;
const TIME_SCALE = timeScale(process.env.TIMEOUTLAB_TIME_SCALE);

// [API] "Invocation error": the runtime sends the error type in this header.
const ERROR_TYPE_HEADER = "Lambda-Runtime-Function-Error-Type";
const STREAMING = Symbol.for("aws.lambda.runtime.handler.streaming");
const HTTP_INTEGRATION_TYPE = "application/vnd.awslambda.http-integration-response";

function timeScale(text) {
  const value = Number(text ?? "1");
  return Number.isFinite(value) && value > 0 ? value : 1;
}

// ---------------------------------------------------------------------------------------------
// Errors as the Node.js runtime reports them: {errorType, errorMessage, trace}. ([API] shows the
// body's shape as errorMessage/errorType plus a stack; the Node.js runtime names the stack
// `trace`, an array of lines, which is what Node.js callers on AWS see.)

class RuntimeError extends Error {
  constructor(name, message, cause) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = name;
    if (cause?.stack) this.stack = `${name}: ${message}\n${cause.stack}`;
  }
}

function errorBody(error) {
  if (error instanceof Error || (error && typeof error.name === "string" && error.stack)) {
    return {
      errorType: String(error.name),
      errorMessage: String(error.message),
      trace: String(error.stack ?? "").split("\n"),
    };
  }
  return { errorType: typeof error, errorMessage: String(error), trace: [] };
}

// ---------------------------------------------------------------------------------------------
// The Runtime API client, on node:http: fetch (undici) would cut the long-poll on /next after its
// 300 s headers timeout, and [API] says "Don't set a timeout on the GET request".

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });

function request(method, url, headers = {}) {
  return http.request(url, { method, agent, headers, timeout: 0 });
}

function exchange(req, body) {
  return new Promise((resolve, reject) => {
    req.once("error", reject);
    req.once("response", (response) => {
      const chunks = [];
      response.on("data", (chunk) => chunks.push(chunk));
      response.once("error", reject);
      response.once("end", () =>
        resolve({ status: response.statusCode, headers: response.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.end(body);
  });
}

async function post(url, body, headers = {}) {
  const response = await exchange(
    request("POST", url, { "Content-Type": "application/json", ...headers }),
    body,
  );
  if (response.status < 200 || response.status > 299) {
    console.error(`timeoutlab bootstrap: POST ${url} answered ${response.status}`);
  }
  return response;
}

function postError(url, error) {
  const body = errorBody(error);
  // [API] "Invocation error" / "Initialization error": Lambda-Runtime-Function-Error-Type header,
  // JSON body with the error.
  return post(url, JSON.stringify(body), { [ERROR_TYPE_HEADER]: body.errorType });
}

/** [API] "Next invocation": GET /runtime/invocation/next, with no timeout on the request. */
async function nextInvocation() {
  const { status, headers, body } = await exchange(request("GET", `${API}/invocation/next`));
  if (status !== 200) throw new Error(`GET /runtime/invocation/next answered ${status}`);
  return {
    event: JSON.parse(body.toString("utf8")),
    requestId: headers["lambda-runtime-aws-request-id"],
    deadlineMs: Number(headers["lambda-runtime-deadline-ms"]),
    functionArn: headers["lambda-runtime-invoked-function-arn"],
    traceId: headers["lambda-runtime-trace-id"],
    clientContext: headers["lambda-runtime-client-context"],
    cognitoIdentity: headers["lambda-runtime-cognito-identity"],
  };
}

// ---------------------------------------------------------------------------------------------
// Loading the handler during init ([CUSTOM] "Initialization tasks": read _HANDLER and
// LAMBDA_TASK_ROOT, load the handler file; on failure post /init/error and exit).

function parseHandler(handler) {
  // [HANDLER] "index.handler": the file (relative to the task root, folders allowed), then the
  // exported name; a dotted rest is a nested property, as the Node.js runtime reads it.
  const base = path.basename(handler);
  const match = /^([^.]+)\.(.+)$/.exec(base);
  if (!match) throw new RuntimeError("Runtime.MalformedHandlerName", "Bad handler");
  return { moduleRoot: path.dirname(handler), module: match[1], attribute: match[2] };
}

function typeModule(directory) {
  // A .js file is an ES module when the nearest package.json says "type": "module".
  for (let folder = directory; ; folder = path.dirname(folder)) {
    const manifest = path.join(folder, "package.json");
    if (fs.existsSync(manifest)) {
      try {
        return JSON.parse(fs.readFileSync(manifest, "utf8")).type === "module";
      } catch {
        return false;
      }
    }
    if (folder === path.dirname(folder)) return false;
  }
}

async function loadModule(file) {
  const esm =
    file.endsWith(".mjs") || (file.endsWith(".js") && typeModule(path.dirname(file)));
  if (esm) return import(pathToFileURL(file).href);
  return createRequire(file)(file); // CommonJS (.cjs, or .js outside a "type": "module" package)
}

function importError(error) {
  if (error instanceof RuntimeError) return error;
  if (error instanceof SyntaxError) {
    return new RuntimeError("Runtime.UserCodeSyntaxError", String(error), error);
  }
  if (error?.code === "MODULE_NOT_FOUND" || error?.code === "ERR_MODULE_NOT_FOUND") {
    return new RuntimeError("Runtime.ImportModuleError", String(error), error);
  }
  return error; // thrown by the module's own top-level code: reported as itself
}

async function loadHandler(taskRoot, handler) {
  const { moduleRoot, module, attribute } = parseHandler(handler);
  const stem = path.resolve(taskRoot, moduleRoot, module);
  const file = [".js", ".mjs", ".cjs"].map((ext) => stem + ext).find((f) => fs.existsSync(f));
  if (file === undefined) {
    throw new RuntimeError(
      "Runtime.ImportModuleError",
      `Error: Cannot find module '${path.join(moduleRoot, module)}' (tried .js, .mjs, .cjs in ${taskRoot})`,
    );
  }
  let loaded;
  try {
    loaded = await loadModule(file);
  } catch (error) {
    throw importError(error);
  }
  let value = loaded;
  for (const part of attribute.split(".")) value = value?.[part];
  if (value === undefined && loaded?.default !== undefined) {
    value = loaded.default; // a CommonJS module imported as ESM keeps its exports on `default`
    for (const part of attribute.split(".")) value = value?.[part];
  }
  if (value === undefined) {
    throw new RuntimeError("Runtime.HandlerNotFound", `${handler} is undefined or not exported`);
  }
  if (typeof value !== "function") {
    throw new RuntimeError("Runtime.HandlerNotFound", `${handler} is not a function`);
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// Response streaming ([STREAM]): `awslambda.streamifyResponse(handler)` marks a handler
// `(event, responseStream, context)`; its output goes out as one chunked POST with
// `Lambda-Runtime-Function-Response-Mode: streaming`. `awslambda.HttpResponseStream.from(stream,
// {statusCode, headers, cookies})` writes the HTTP integration's prelude first: the metadata JSON,
// then 8 NUL bytes.

class HttpResponseStream {
  static from(stream, prelude) {
    stream.setContentType(HTTP_INTEGRATION_TYPE);
    stream.write(JSON.stringify(prelude ?? {}));
    stream.write(new Uint8Array(8));
    return stream;
  }
}

globalThis.awslambda = {
  streamifyResponse(handler) {
    handler[STREAMING] = "response";
    return handler;
  },
  HttpResponseStream,
};

function responseStream(url) {
  // One chunked POST ([STREAM]); it starts with the first write, so the content type can be set
  // until then (HttpResponseStream.from sets it).
  let contentType = "application/octet-stream";
  let req;
  let answer;
  const start = () => {
    if (req === undefined) {
      req = request("POST", url, {
        "Content-Type": contentType,
        "Lambda-Runtime-Function-Response-Mode": "streaming",
        "Transfer-Encoding": "chunked",
      });
      answer = new Promise((resolve, reject) => {
        req.once("error", reject);
        req.once("response", (response) => {
          response.resume();
          response.once("end", () => resolve(response.statusCode));
        });
      });
    }
    return req;
  };
  const stream = new Writable({
    write(chunk, encoding, done) {
      start().write(chunk, encoding, done);
    },
    final(done) {
      start().end(done);
    },
    destroy(error, done) {
      if (error && req) req.destroy(error); // cut the chunked body: the stream failed
      done(error);
    },
  });
  stream.setContentType = (type) => {
    if (req) throw new Error("the content type cannot change once the stream has started");
    contentType = type;
  };
  return {
    stream,
    started: () => req !== undefined,
    finish: () => (start(), answer),
  };
}

// ---------------------------------------------------------------------------------------------
// One invocation ([CUSTOM] "Processing tasks").

let current = null; // {requestId} of the invocation in progress, for uncaught errors

function buildContext(invocation, settle) {
  const { requestId, deadlineMs } = invocation;
  let waits = true;
  const done = (error, result) =>
    error !== undefined && error !== null ? settle({ error }) : settle({ result });
  // [CTX] the Node.js context object's properties and methods.
  return {
    functionName: process.env.AWS_LAMBDA_FUNCTION_NAME,
    functionVersion: process.env.AWS_LAMBDA_FUNCTION_VERSION,
    invokedFunctionArn: invocation.functionArn,
    memoryLimitInMB: process.env.AWS_LAMBDA_FUNCTION_MEMORY_SIZE,
    awsRequestId: requestId,
    logGroupName: process.env.AWS_LAMBDA_LOG_GROUP_NAME,
    logStreamName: process.env.AWS_LAMBDA_LOG_STREAM_NAME,
    identity: parseHeader(invocation.cognitoIdentity, "CognitoIdentity"),
    clientContext: parseHeader(invocation.clientContext, "ClientContext"),
    // Emulated ms: the deadline is real wall-clock time, the function lives at the time scale.
    getRemainingTimeInMillis: () => Math.floor((deadlineMs - Date.now()) / TIME_SCALE),
    get callbackWaitsForEmptyEventLoop() {
      return waits;
    },
    set callbackWaitsForEmptyEventLoop(value) {
      waits = Boolean(value);
    },
    done,
    succeed: (result) => done(null, result),
    fail: (error) => done(error ?? "handled"),
  };
}

function parseHeader(value, name) {
  if (value === null || value === undefined || value === "") return undefined;
  try {
    return JSON.parse(value);
  } catch (error) {
    throw new Error(`Cannot parse ${name} as json: ${error}`);
  }
}

function emptyEventLoop() {
  return new Promise((resolve) => process.once("beforeExit", resolve));
}

async function invoke(handler, invocation) {
  const { requestId } = invocation;
  const base = `${API}/invocation/${requestId}`;
  // [API] "Next invocation": Lambda-Runtime-Trace-Id goes to the _X_AMZN_TRACE_ID variable.
  if (invocation.traceId) process.env._X_AMZN_TRACE_ID = invocation.traceId;
  else delete process.env._X_AMZN_TRACE_ID;

  let settle;
  const outcome = new Promise((resolve) => {
    let settled = false;
    settle = (value) => {
      if (!settled) {
        settled = true;
        resolve(value);
      }
    };
  });
  // A handler that neither returns a promise nor calls back answers null once the event loop is
  // empty, as the Node.js runtime does.
  const onEmpty = () => settle({ result: null });
  process.once("beforeExit", onEmpty);
  try {
    let context;
    try {
      context = buildContext(invocation, settle);
    } catch (error) {
      settle({ error });
    }
    if (context !== undefined) {
      if (handler[STREAMING] === "response") {
        await invokeStreaming(handler, invocation, context, base, settle);
      } else {
        const callback = (error, result) => {
          if (error !== undefined && error !== null) settle({ error });
          else settle({ result, drain: context.callbackWaitsForEmptyEventLoop });
        };
        try {
          const returned = handler(invocation.event, context, callback);
          if (returned && typeof returned.then === "function") {
            returned.then(
              (result) => settle({ result }),
              (error) => settle({ error: error ?? "handled" }),
            );
          }
        } catch (error) {
          settle({ error });
        }
      }
    }
    const { result, error, drain, posted } = await outcome;
    invocation.returned = true; // what fails from now on is not this handler's answer
    if (posted) return;
    if (drain) await emptyEventLoop(); // callback + callbackWaitsForEmptyEventLoop (the default)
    if (error !== undefined) {
      console.error(`${new Date().toISOString()}\t${requestId}\tERROR\tInvoke Error\t`, error);
      await postError(`${base}/error`, error);
      return;
    }
    let body;
    try {
      body = JSON.stringify(result === undefined ? null : result);
    } catch (problem) {
      await postError(`${base}/error`, problem);
      return;
    }
    // [API] "Invocation response": POST /runtime/invocation/{AwsRequestId}/response.
    await post(`${base}/response`, body);
  } finally {
    process.removeListener("beforeExit", onEmpty);
  }
}

async function invokeStreaming(handler, invocation, context, base, settle) {
  const { stream, started, finish } = responseStream(`${base}/response`);
  try {
    const returned = handler(invocation.event, stream, context);
    if (!returned || typeof returned.then !== "function") {
      throw new Error("Streaming does not support non-async handlers.");
    }
    if ((await returned) !== undefined) console.warn("Streaming handlers ignore return values.");
    // As the Node.js runtime: the handler must end its stream before its promise settles.
    if (!stream.writableEnded) throw new Error("Response stream is not finished.");
    if (!stream.writableFinished) {
      await new Promise((resolve, reject) => {
        stream.once("finish", resolve);
        stream.once("error", reject);
      });
    }
    await finish();
    settle({ posted: true });
  } catch (error) {
    if (started()) {
      stream.destroy(error instanceof Error ? error : new Error(String(error)));
      console.error(`${new Date().toISOString()}\t${invocation.requestId}\tERROR\t`, error);
      await finish().catch(() => {});
      settle({ posted: true });
    } else {
      settle({ error });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Errors outside the handler's promise: reported for the invocation in progress (or as an init
// error), then the environment ends, as the Node.js runtime does (exit 129 / 128).

let initialised = false;
// An exit code set when the function's code failed after its handler returned, while its answer
// was still being posted: main exits with it once that answer is posted.
let exitAfterAnswer = null;

function fatal(error, exitCode) {
  console.error(`${new Date().toISOString()}\t${current?.requestId ?? ""}\tERROR\t`, error);
  if (initialised && (!current || current.returned)) {
    // The function's own code (a timer, a promise no one awaited) threw or rejected after its
    // invocation had returned. The Node.js runtime logs it and exits, and Lambda replaces an
    // environment whose runtime exits
    // (https://docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html): the
    // emulator starts a new one for the next invocation.
    console.error(
      `function ${process.env.AWS_LAMBDA_FUNCTION_NAME}: its code raised ${error?.name}` +
        ` (${error?.message}) between invocations; the runtime process exits with status` +
        ` ${exitCode} and the environment is replaced (the next invocation starts a new one)`,
    );
    if (!current) process.exit(exitCode);
    // Its answer is still being posted: the process exits once it is, before asking for another
    // invocation (main), so that answer stands and no other invocation is taken.
    exitAfterAnswer = exitCode;
    return;
  }
  const url = current ? `${API}/invocation/${current.requestId}/error` : `${API}/init/error`;
  // Posted: exit now. Not posted: the Runtime API is gone, so is the emulator (see above).
  postError(url, error).then(
    () => process.exit(exitCode),
    () => exitWithEmulator(exitCode),
  );
}

process.on("uncaughtException", (error) => fatal(error, 129));
process.on("unhandledRejection", (reason) => {
  const error = new RuntimeError(
    "Runtime.UnhandledPromiseRejection",
    String(reason instanceof Error ? `${reason.name}: ${reason.message}` : reason),
    reason instanceof Error ? reason : undefined,
  );
  fatal(error, 128);
});

// Settles when the lifeline ends, then kills the group; null without a lifeline.
let lifelineEnded = null;
// How long (real ms) a runtime whose Runtime API failed waits for the lifeline's end.
const LIFELINE_GRACE_MS = 2000;

function holdLifeline() {
  const text = process.env.TIMEOUTLAB_LIFELINE_FD;
  delete process.env.TIMEOUTLAB_LIFELINE_FD;
  if (!/^[0-9]+$/.test(text ?? "")) return;
  let line;
  try {
    line = new net.Socket({ fd: Number(text), readable: true, writable: false });
  } catch {
    return; // not an open pipe: nothing to hold
  }
  const die = () => {
    endDescendants();
    try {
      process.kill(-process.pid, "SIGKILL"); // the group this environment leads
    } catch {
      process.kill(process.pid, "SIGKILL");
    }
  };
  lifelineEnded = new Promise((resolve) => line.on("end", resolve)).then(die);
  line.on("error", () => {}); // closed under us: not the emulator's end, kill nothing
  line.resume();
  line.unref(); // never what keeps the runtime alive
}

// The Runtime API failed (between invocations, or posting an error): the emulator closes it only
// after it has killed this environment, so the emulator is dying. Exit only once the lifeline has
// had time to say so (its end kills the whole group, what the handler started too), not before,
// on whichever event happened to come first.
function exitWithEmulator(exitCode) {
  if (lifelineEnded === null) process.exit(exitCode);
  const grace = new Promise((resolve) => setTimeout(resolve, LIFELINE_GRACE_MS));
  Promise.race([lifelineEnded, grace]).finally(() => process.exit(exitCode));
}

// ---------------------------------------------------------------------------------------------
// The environment's tree: this process's descendants, from /proc (Linux; none elsewhere).

function descendantsOf(pid) {
  const found = [];
  let tasks;
  try {
    tasks = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return found; // gone, or no /proc
  }
  for (const task of tasks) {
    let listed;
    try {
      listed = fs.readFileSync(`/proc/${pid}/task/${task}/children`, "utf8");
    } catch {
      continue;
    }
    for (const kid of listed.split(/\s+/).filter(Boolean).map(Number)) {
      found.push(kid, ...descendantsOf(kid));
    }
  }
  return found;
}

function runningPid(pid) {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0] !== "Z";
  } catch {
    return false;
  }
}

// SIGKILL every descendant, round after round until none runs (a killed one's children are
// reparented to this subreaper), for at most 2 s. Synchronous: it runs in the "exit" event too.
function endDescendants() {
  const deadline = Date.now() + 2000;
  const killed = new Set();
  const pause = new Int32Array(new SharedArrayBuffer(4));
  while (Date.now() < deadline) {
    const left = descendantsOf(process.pid).filter(runningPid);
    if (left.length === 0) return;
    for (const pid of left) {
      if (killed.has(pid)) continue;
      killed.add(pid);
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone meanwhile
      }
    }
    Atomics.wait(pause, 0, 0, 2);
  }
}

async function main() {
  holdLifeline();
  process.on("exit", endDescendants);
  let handler;
  try {
    handler = await loadHandler(
      process.env.LAMBDA_TASK_ROOT ?? process.cwd(),
      process.env._HANDLER ?? "",
    );
  } catch (error) {
    // [CUSTOM] "If an error occurs, post an initialization error ... and exit immediately."
    console.error(`${new Date().toISOString()}\t\tERROR\tInit Error\t`, error);
    await postError(`${API}/init/error`, error).catch(() => {});
    process.exit(1);
  }
  initialised = true;
  // [CUSTOM] "Processing tasks": a loop, one invocation at a time.
  for (;;) {
    try {
      const invocation = await nextInvocation();
      current = invocation;
      await invoke(handler, invocation);
      current = null;
      if (exitAfterAnswer !== null) process.exit(exitAfterAnswer);
    } catch (error) {
      // The Runtime API itself failed (a request refused or cut): the emulator closes it only
      // after killing this environment, so the emulator is dying.
      console.error("timeoutlab bootstrap: the Runtime API failed:", error);
      exitWithEmulator(1);
      return;
    }
  }
}

await main();
