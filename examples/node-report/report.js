// The report Lambda: wait `delay` ms, write a CSV of `amountOfRows` rows to S3, return a
// presigned GET URL valid for one hour.
//
// Behind API Gateway REST (`handler`, Lambda proxy integration) a long delay is exactly what hits
// the 29 s integration timeout: the client gets 504 while this function runs on to the end.
// Invoked asynchronously for a WebSocket client (`deliver`), it pushes {"url"} to the connection
// through the API Gateway Management API when the report is ready, however long that took.
import { randomUUID } from "node:crypto";

import {
  ApiGatewayManagementApiClient,
  GoneException,
  PostToConnectionCommand,
} from "@aws-sdk/client-apigatewaymanagementapi";
import { GetObjectCommand, PutObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { getSignedUrl } from "@aws-sdk/s3-request-presigner";

import * as connections from "./connections.js";
import { wait } from "./time.js";

export const MAX_DELAY_MS = 900_000; // Lambda cannot run longer than 15 minutes
export const MAX_ROWS = 1_000_000;
export const URL_EXPIRY_SECONDS = 3600;
const CSV_HEADER = "id,customer,amount,created_at";

// Under an emulator the endpoint is an address (AWS_ENDPOINT_URL, which SDK v3 honours), so
// path-style URLs are the ones that resolve.
const s3 = new S3Client({ forcePathStyle: Boolean(process.env.AWS_ENDPOINT_URL) });

export class InvalidDefinition extends Error {
  name = "InvalidDefinition";
}

/** [delay in ms, rows] from a report definition, or InvalidDefinition saying what is wrong. */
export function validateDefinition(definition) {
  if (definition === null || typeof definition !== "object" || Array.isArray(definition)) {
    throw new InvalidDefinition("the report definition must be a JSON object");
  }
  const limits = { delay: [0, MAX_DELAY_MS], amountOfRows: [1, MAX_ROWS] };
  for (const [name, [low, high]] of Object.entries(limits)) {
    const value = definition[name];
    if (value === undefined || value === null) throw new InvalidDefinition(`'${name}' is required`);
    if (!Number.isInteger(value)) {
      throw new InvalidDefinition(`'${name}' must be an integer, got ${JSON.stringify(value)}`);
    }
    if (value < low || value > high) {
      throw new InvalidDefinition(`'${name}' must be between ${low} and ${high}, got ${value}`);
    }
  }
  const unknown = Object.keys(definition).filter((key) => !(key in limits)).sort();
  if (unknown.length > 0) throw new InvalidDefinition(`unknown field(s): ${unknown.join(", ")}`);
  return [definition.delay, definition.amountOfRows];
}

export function renderCsv(rows) {
  const lines = [CSV_HEADER];
  for (let i = 1; i <= rows; i += 1) {
    const customer = `customer-${String(i % 997).padStart(3, "0")}`;
    lines.push(`${i},${customer},${(((i * 7919) % 100000) / 100).toFixed(2)},2024-01-01`);
  }
  return `${lines.join("\n")}\n`;
}

/** Do the slow work, store the CSV and return where to download it. */
export async function generateReport(delayMs, rows) {
  await wait(delayMs);
  const Bucket = process.env.REPORTS_BUCKET;
  const Key = `reports/${randomUUID()}.csv`;
  await s3.send(new PutObjectCommand({ Bucket, Key, Body: renderCsv(rows), ContentType: "text/csv" }));
  return getSignedUrl(s3, new GetObjectCommand({ Bucket, Key }), { expiresIn: URL_EXPIRY_SECONDS });
}

function respond(statusCode, payload) {
  return {
    statusCode,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(payload),
  };
}

/** POST /reports: the synchronous report endpoint (Lambda proxy integration). */
export async function handler(event) {
  let definition;
  try {
    definition = JSON.parse(event.body ?? "");
  } catch {
    return respond(400, { message: "request body must be a JSON report definition" });
  }
  let delayMs;
  let rows;
  try {
    [delayMs, rows] = validateDefinition(definition);
  } catch (error) {
    if (error instanceof InvalidDefinition) return respond(400, { message: error.message });
    throw error;
  }
  console.log(`generating report: delay=${delayMs} ms rows=${rows}`);
  return respond(200, { url: await generateReport(delayMs, rows) });
}

/** Push a message to the client; a connection that is gone is forgotten. */
async function post(callbackUrl, connectionId, payload) {
  const client = new ApiGatewayManagementApiClient({ endpoint: callbackUrl });
  try {
    await client.send(
      new PostToConnectionCommand({ ConnectionId: connectionId, Data: JSON.stringify(payload) }),
    );
    return true;
  } catch (error) {
    if (!(error instanceof GoneException)) throw error;
    console.log(`connection ${connectionId} is gone; forgetting it`);
    await connections.forget(connectionId);
    return false;
  }
}

/** Asynchronous entry point: make the report and push {"url"} (or {"error"}) to the connection. */
export async function deliver(event) {
  const { connectionId, callbackUrl } = event;
  let payload;
  try {
    const [delayMs, rows] = validateDefinition(event.definition);
    payload = { url: await generateReport(delayMs, rows) };
  } catch (error) {
    if (!(error instanceof InvalidDefinition)) throw error;
    payload = { error: error.message };
  }
  if (!(await connections.isOpen(connectionId))) {
    console.log(`connection ${connectionId} is no longer open; nothing to deliver`);
    return { delivered: false };
  }
  const delivered = await post(callbackUrl, connectionId, payload);
  return { delivered };
}
