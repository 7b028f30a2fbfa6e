// The DynamoDB table of open WebSocket connections. DynamoDB deletes expired items late (up to
// days after their ttl), so readers treat an item whose ttl has passed as absent.
import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand } from "@aws-sdk/lib-dynamodb";

import { now } from "./time.js";

export const CONNECTION_TTL_SECONDS = 3600;

// One client per execution environment (AWS's advice: create clients outside the handler).
const documents = DynamoDBDocumentClient.from(new DynamoDBClient({}));
const TableName = process.env.CONNECTIONS_TABLE;

/** Store (or refresh) a connection, to expire an hour from now. */
export async function remember(connectionId) {
  const connectedAt = Math.floor(now());
  await documents.send(
    new PutCommand({
      TableName,
      Item: { connectionId, connectedAt, ttl: connectedAt + CONNECTION_TTL_SECONDS },
    }),
  );
}

export async function forget(connectionId) {
  await documents.send(new DeleteCommand({ TableName, Key: { connectionId } }));
}

/** Whether the connection is stored and its item has not expired. */
export async function isOpen(connectionId) {
  const { Item } = await documents.send(new GetCommand({ TableName, Key: { connectionId } }));
  return Item !== undefined && Number(Item.ttl ?? 0) > now();
}
