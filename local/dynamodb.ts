import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
// dynalite ships no types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (options: Record<string, unknown>) => Server;

export interface LocalDynamoDb {
  url: string;
  close(): Promise<void>;
}

/** DynamoDB on loopback (dynalite, in memory); tables are created ACTIVE at once. */
export async function startDynamoDb(port = 0, host = '127.0.0.1'): Promise<LocalDynamoDb> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${host}:${address.port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections?.();
        server.close(() => resolve());
      }),
  };
}
