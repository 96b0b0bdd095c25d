import { InvokeCommand, LambdaClient, ResourceNotFoundException } from '@aws-sdk/client-lambda';
import { LocalLambdaApi, type InvokeTarget } from '../../local/lambda/invoke-api';

/** The local Lambda Invoke API through the real SDK: Event (queued, 202), RequestResponse, an unknown function. */

let api: LocalLambdaApi;
let client: LambdaClient;
const queued: Array<{ functionArn: string; event: unknown }> = [];
const target: InvokeTarget = {
  invokeAsync: (functionArn, event) => {
    if (!functionArn.endsWith(':function:known')) return false;
    queued.push({ functionArn, event });
    return true;
  },
  invoke: async (functionArn, event) => {
    if (!functionArn.endsWith(':function:known')) throw new Error(`function ${functionArn} does not exist`);
    return { echoed: event };
  },
};

beforeAll(async () => {
  api = new LocalLambdaApi({ region: 'us-east-1', defaultAccountId: '123456789012', target });
  client = new LambdaClient({ endpoint: await api.listen(0), region: 'us-east-1', credentials: { accessKeyId: '210987654321', secretAccessKey: 'local' } });
});

afterAll(async () => {
  client.destroy();
  await api.close();
});

it('queues an Event invocation in the account the access key names, and answers 202', async () => {
  const answer = await client.send(new InvokeCommand({ FunctionName: 'known', InvocationType: 'Event', Payload: Buffer.from('{"a":1}') }));
  expect(answer.StatusCode).toBe(202);
  expect(queued).toEqual([{ functionArn: 'arn:aws:lambda:us-east-1:210987654321:function:known', event: { a: 1 } }]);
});

it('answers a RequestResponse invocation with the function’s result', async () => {
  const answer = await client.send(new InvokeCommand({ FunctionName: 'known', Payload: Buffer.from('{"b":2}') }));
  expect(answer.StatusCode).toBe(200);
  expect(JSON.parse(Buffer.from(answer.Payload!).toString('utf8'))).toEqual({ echoed: { b: 2 } });
});

it('refuses a function that does not exist with ResourceNotFoundException', async () => {
  await expect(client.send(new InvokeCommand({ FunctionName: 'unknown', InvocationType: 'Event', Payload: Buffer.from('{}') }))).rejects.toBeInstanceOf(ResourceNotFoundException);
});
