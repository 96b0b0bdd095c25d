import {
  AddThingToThingGroupCommand,
  AttachThingPrincipalCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreateThingTypeCommand,
  DeleteThingCommand,
  DescribeThingCommand,
  DetachThingPrincipalCommand,
  IoTClient,
  ListThingGroupsForThingCommand,
  ListThingsInThingGroupCommand,
  RegisterCertificateWithoutCACommand,
  RemoveThingFromThingGroupCommand,
  UpdateThingCommand,
} from '@aws-sdk/client-iot';
import { LocalIotCore } from '../../local/local-iot-core';
import { createCa, issueCertificate } from '../../lib/pki';

/**
 * The local IoT Core's thing calls the lifecycle uses, through the real AWS SDK, with AWS's semantics
 * (botocore `iot` 2015-05-28: RemoveThingFromThingGroup PUT /thing-groups/removeThingFromThingGroup,
 * ListThingsInThingGroup GET /thing-groups/{name}/things, UpdateThing PATCH /things/{name}, DeleteThing).
 */

let core: LocalIotCore;
let iot: IoTClient;

async function errorOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).name;
  }
  throw new Error('expected the call to fail');
}

const groupsOf = async (thingName: string) =>
  ((await iot.send(new ListThingGroupsForThingCommand({ thingName }))).thingGroups ?? []).map((g) => g.groupName).sort();

beforeAll(async () => {
  core = await LocalIotCore.start({ traffic: { throttling: false } });
  iot = new IoTClient({ endpoint: core.endpoints.iot, region: 'us-east-1', credentials: { accessKeyId: '123456789012', secretAccessKey: 'local' }, maxAttempts: 1 });
  await iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
  await iot.send(new CreateThingGroupCommand({ thingGroupName: 'quarantine' }));
  await iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet-eu', parentGroupName: 'fleet' }));
});

afterAll(async () => {
  iot.destroy();
  await core.close();
});

describe('RemoveThingFromThingGroup and ListThingsInThingGroup', () => {
  it('moves a thing between groups, by name or by ARN, and lists the members (recursively on request)', async () => {
    const { thingArn } = await iot.send(new CreateThingCommand({ thingName: 'MOVE-1' }));
    await iot.send(new CreateThingCommand({ thingName: 'MOVE-2' }));
    await iot.send(new AddThingToThingGroupCommand({ thingName: 'MOVE-1', thingGroupName: 'fleet' }));
    await iot.send(new AddThingToThingGroupCommand({ thingName: 'MOVE-2', thingGroupName: 'fleet-eu' }));

    expect((await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'fleet' }))).things).toEqual(['MOVE-1']);
    expect((await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'fleet', recursive: true }))).things).toEqual(['MOVE-1', 'MOVE-2']);

    await iot.send(new AddThingToThingGroupCommand({ thingName: 'MOVE-1', thingGroupName: 'quarantine' }));
    await iot.send(new RemoveThingFromThingGroupCommand({ thingArn, thingGroupName: 'fleet' }));
    expect(await groupsOf('MOVE-1')).toEqual(['quarantine']);
    expect((await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'fleet' }))).things).toEqual([]);
    // Removing a thing that is not a member succeeds and changes nothing.
    await iot.send(new RemoveThingFromThingGroupCommand({ thingName: 'MOVE-1', thingGroupName: 'fleet' }));
    expect(await groupsOf('MOVE-1')).toEqual(['quarantine']);
  });

  it('pages ListThingsInThingGroup with maxResults and nextToken', async () => {
    await iot.send(new CreateThingGroupCommand({ thingGroupName: 'paged' }));
    for (const n of [1, 2, 3]) {
      await iot.send(new CreateThingCommand({ thingName: `PAGE-${n}` }));
      await iot.send(new AddThingToThingGroupCommand({ thingName: `PAGE-${n}`, thingGroupName: 'paged' }));
    }
    const first = await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'paged', maxResults: 2 }));
    const second = await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'paged', maxResults: 2, nextToken: first.nextToken }));
    expect([...(first.things ?? []), ...(second.things ?? [])]).toEqual(['PAGE-1', 'PAGE-2', 'PAGE-3']);
    expect(second.nextToken).toBeUndefined();
  });

  it('answers ResourceNotFoundException for an unknown group or thing', async () => {
    expect(await errorOf(iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'no-such-group' })))).toBe('ResourceNotFoundException');
    expect(await errorOf(iot.send(new RemoveThingFromThingGroupCommand({ thingName: 'NO-SUCH-THING', thingGroupName: 'fleet' })))).toBe('ResourceNotFoundException');
    expect(await errorOf(iot.send(new RemoveThingFromThingGroupCommand({ thingName: 'MOVE-2', thingGroupName: 'no-such-group' })))).toBe('ResourceNotFoundException');
  });
});

describe('UpdateThing', () => {
  it('merges or replaces attributes, sets and removes the type, and bumps the version', async () => {
    await iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor' }));
    await iot.send(new CreateThingCommand({ thingName: 'UPD-1', attributePayload: { attributes: { a: '1', b: '2' } } }));

    await iot.send(new UpdateThingCommand({ thingName: 'UPD-1', attributePayload: { attributes: { b: '', c: '3' }, merge: true } }));
    let thing = await iot.send(new DescribeThingCommand({ thingName: 'UPD-1' }));
    expect(thing).toMatchObject({ attributes: { a: '1', c: '3' }, version: 2 });

    await iot.send(new UpdateThingCommand({ thingName: 'UPD-1', thingTypeName: 'sensor', attributePayload: { attributes: { z: '9' } }, expectedVersion: 2 }));
    thing = await iot.send(new DescribeThingCommand({ thingName: 'UPD-1' }));
    expect(thing).toMatchObject({ attributes: { z: '9' }, thingTypeName: 'sensor', version: 3 });

    await iot.send(new UpdateThingCommand({ thingName: 'UPD-1', removeThingType: true }));
    thing = await iot.send(new DescribeThingCommand({ thingName: 'UPD-1' }));
    expect(thing.thingTypeName).toBeUndefined();
    expect(thing.version).toBe(4);
  });

  it('refuses a stale expectedVersion, an unknown type or thing, and more than 3 attributes without a type', async () => {
    await iot.send(new CreateThingCommand({ thingName: 'UPD-2' }));
    expect(await errorOf(iot.send(new UpdateThingCommand({ thingName: 'UPD-2', expectedVersion: 7 })))).toBe('VersionConflictException');
    expect(await errorOf(iot.send(new UpdateThingCommand({ thingName: 'UPD-2', thingTypeName: 'no-such-type' })))).toBe('ResourceNotFoundException');
    expect(await errorOf(iot.send(new UpdateThingCommand({ thingName: 'NO-SUCH-THING', removeThingType: true })))).toBe('ResourceNotFoundException');
    const four = { attributes: { a: '1', b: '2', c: '3', d: '4' } };
    expect(await errorOf(iot.send(new UpdateThingCommand({ thingName: 'UPD-2', attributePayload: four })))).toBe('InvalidRequestException');
    expect((await iot.send(new DescribeThingCommand({ thingName: 'UPD-2' }))).version).toBe(1);
  });
});

describe('DeleteThing', () => {
  it('refuses while a principal is attached, deletes once it is detached, and succeeds for a thing that is gone', async () => {
    const ca = await createCa({ commonName: 'Lifecycle calls CA' });
    const device = await issueCertificate(ca, { subject: { serialNumber: 'DEL-1' } });
    const { certificateArn } = await iot.send(new RegisterCertificateWithoutCACommand({ certificatePem: device.certificatePem, status: 'ACTIVE' }));
    await iot.send(new CreateThingCommand({ thingName: 'DEL-1' }));
    await iot.send(new AddThingToThingGroupCommand({ thingName: 'DEL-1', thingGroupName: 'fleet' }));
    await iot.send(new AttachThingPrincipalCommand({ thingName: 'DEL-1', principal: certificateArn }));

    expect(await errorOf(iot.send(new DeleteThingCommand({ thingName: 'DEL-1' })))).toBe('InvalidRequestException');
    await iot.send(new DetachThingPrincipalCommand({ thingName: 'DEL-1', principal: certificateArn }));
    await iot.send(new DeleteThingCommand({ thingName: 'DEL-1' }));

    expect(await errorOf(iot.send(new DescribeThingCommand({ thingName: 'DEL-1' })))).toBe('ResourceNotFoundException');
    expect((await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'fleet' }))).things).not.toContain('DEL-1');
    await expect(iot.send(new DeleteThingCommand({ thingName: 'DEL-1' }))).resolves.toBeDefined();
  });
});
