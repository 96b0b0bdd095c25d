import { signedFetch } from '../../lib/sigv4';
import { callerActor } from '../../cli/timeline';
import { CliError, type Target } from '../../cli/target';

/** Who the CLI's lifecycle actions are recorded as: the caller identity STS names, or nothing runs. */

jest.mock('../../lib/sigv4', () => ({ signedFetch: jest.fn() }));
const fetchMock = signedFetch as jest.MockedFunction<typeof signedFetch>;

const awsTarget: Target = {
  description: 'AWS stage dev',
  registryTable: 'iot-provisioner-dev-devices',
  timelineTable: 'iot-provisioner-dev-device-timeline',
  quarantineGroup: 'iot-provisioner-dev-quarantine',
  stage: 'dev',
  templateName: 'iot-provisioner-dev',
  roleAlias: 'iot-provisioner-dev-device',
  rotationJobTemplate: 'iot-provisioner-dev-rotation',
  rotationEventsFunction: 'iot-provisioner-dev-rotationEvents',
};

beforeEach(() => {
  fetchMock.mockReset();
  process.env.AWS_REGION = 'eu-west-1';
});

it('asks STS GetCallerIdentity, signed for sts in the region, and records the caller ARN', async () => {
  const arn = 'arn:aws:sts::123456789012:assumed-role/Operator/alice';
  fetchMock.mockResolvedValue({ status: 200, headers: new Headers(), text: JSON.stringify({ GetCallerIdentityResponse: { GetCallerIdentityResult: { Arn: arn } } }) });
  expect(await callerActor(awsTarget)).toEqual({ kind: 'cli', id: arn });
  const [url, request] = fetchMock.mock.calls[0]!;
  expect(url.href).toBe('https://sts.eu-west-1.amazonaws.com/');
  expect(request).toMatchObject({ method: 'POST', service: 'sts', region: 'eu-west-1', body: 'Action=GetCallerIdentity&Version=2011-06-15' });
});

it.each([
  ['STS refuses the credentials', () => fetchMock.mockResolvedValue({ status: 403, headers: new Headers(), text: '{"Error":{"Code":"InvalidClientTokenId"}}' })],
  ['STS cannot be reached', () => fetchMock.mockRejectedValue(new Error('getaddrinfo ENOTFOUND'))],
])('refuses to act when %s: an action nobody can be named for does not run', async (_what, arrange) => {
  arrange();
  await expect(callerActor(awsTarget)).rejects.toThrow(CliError);
  await expect(callerActor(awsTarget)).rejects.toThrow('cannot tell who you are');
});

it('names the local account against the local IoT Core (it has no STS) without a request', async () => {
  const local = { ...awsTarget, local: { accountId: '000000000000' } } as unknown as Target;
  expect(await callerActor(local)).toEqual({ kind: 'cli', id: 'local:000000000000' });
  expect(fetchMock).not.toHaveBeenCalled();
});
