import { CreateTableCommand, DynamoDBClient, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { startDynamoDb, type LocalDynamoDb } from '../../local/dynamodb';

/**
 * The local DynamoDB keeps each account's tables apart (a table name is unique per account and region):
 * the account is the one the request's access key names; unsigned or foreign keys go to the default
 * account. The outage switch takes every account's DynamoDB down.
 */

const A = '111111111111';
const B = '222222222222';
let dynamo: LocalDynamoDb;
const clients: DynamoDBClient[] = [];
const client = (accessKeyId: string) => {
  const c = new DynamoDBClient({ endpoint: dynamo.url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey: 'local' }, maxAttempts: 1 });
  clients.push(c);
  return c;
};
const table = { TableName: 'devices', AttributeDefinitions: [{ AttributeName: 'id', AttributeType: 'S' as const }], KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' as const }], BillingMode: 'PAY_PER_REQUEST' as const };
const ids = async (accessKeyId: string) => ((await client(accessKeyId).send(new ScanCommand({ TableName: 'devices' }))).Items ?? []).map((i) => i.id!.S).sort();

beforeAll(async () => {
  dynamo = await startDynamoDb(0, '127.0.0.1', { defaultAccountId: A });
  for (const account of [A, B]) await client(account).send(new CreateTableCommand(table));
  await client(A).send(new PutItemCommand({ TableName: 'devices', Item: { id: { S: 'in-a' } } }));
  await client(B).send(new PutItemCommand({ TableName: 'devices', Item: { id: { S: 'in-b' } } }));
});

afterAll(async () => {
  for (const c of clients) c.destroy();
  await dynamo.close();
});

it('gives each account its own tables under the same names', async () => {
  expect(await ids(A)).toEqual(['in-a']);
  expect(await ids(B)).toEqual(['in-b']);
  // A temporary key of B's (ASIA + account + 4) is B's too.
  expect(await ids(`ASIA${B}ABCD`)).toEqual(['in-b']);
});

it('sends keys that name no account to the default account', async () => {
  expect(await ids('AKIAIOSFODNN7EXAMPLE')).toEqual(['in-a']);
});

it('takes every account down during an outage, and brings them back', async () => {
  dynamo.setOutage('unavailable');
  for (const account of [A, B]) await expect(ids(account)).rejects.toMatchObject({ name: 'ServiceUnavailable' });
  dynamo.setOutage(undefined);
  expect(await ids(B)).toEqual(['in-b']);
});
