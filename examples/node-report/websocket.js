// The WebSocket API's handlers: the fix for the 29 s wall. generateReport answers at once and
// hands the work to the report Lambda asynchronously (InvocationType "Event"); that Lambda pushes
// {"url": ...} to the connection when the report is ready.
import { InvokeCommand, LambdaClient } from "@aws-sdk/client-lambda";

import * as connections from "./connections.js";
import { InvalidDefinition, validateDefinition } from "./report.js";

export const SUPPORTED_ACTIONS = ["generateReport"];

const lambda = new LambdaClient({});

/** A route response: its body is what a two-way route sends back to the client. */
function reply(payload, statusCode = 200) {
  return { statusCode, body: JSON.stringify(payload) };
}

/** Where the Management API of this connection's API is (an emulator sets it explicitly). */
export function callbackUrl(requestContext) {
  return (
    process.env.AWS_ENDPOINT_URL_APIGATEWAYMANAGEMENTAPI ||
    `https://${requestContext.domainName}/${requestContext.stage}`
  );
}

function message(event) {
  try {
    const parsed = JSON.parse(event.body ?? "");
    return parsed !== null && typeof parsed === "object" && !Array.isArray(parsed) ? parsed : null;
  } catch {
    return null;
  }
}

/** $connect: remember the connection for an hour. */
export async function connect(event) {
  await connections.remember(event.requestContext.connectionId);
  return { statusCode: 200 };
}

/** $disconnect: forget it. */
export async function disconnect(event) {
  await connections.forget(event.requestContext.connectionId);
  return { statusCode: 200 };
}

/** $default: any other message. */
export async function defaultRoute(event) {
  const action = message(event)?.action;
  const what =
    action === undefined ? "a message without an action" : `action ${JSON.stringify(action)}`;
  return reply({ error: `${what} is not supported`, supportedActions: SUPPORTED_ACTIONS });
}

/** generateReport: validate, invoke the report Lambda asynchronously, answer at once. */
export async function generateReport(event) {
  const { requestContext } = event;
  const body = message(event);
  if (body === null) return reply({ error: "the message must be a JSON object" }, 400);
  const { action, ...definition } = body;
  try {
    validateDefinition(definition);
  } catch (error) {
    if (error instanceof InvalidDefinition) return reply({ error: error.message }, 400);
    throw error;
  }
  const { connectionId } = requestContext;
  await connections.remember(connectionId); // an active connection stays unexpired
  await lambda.send(
    new InvokeCommand({
      FunctionName: process.env.REPORT_FUNCTION_NAME,
      InvocationType: "Event",
      Payload: JSON.stringify({
        connectionId,
        definition,
        callbackUrl: callbackUrl(requestContext),
      }),
    }),
  );
  return reply({ status: "accepted" });
}
