import { X509Certificate } from 'node:crypto';
import {
  AddThingToThingGroupCommand,
  AttachPolicyCommand,
  AttachThingPrincipalCommand,
  CreateKeysAndCertificateCommand,
  CreatePolicyCommand,
  CreatePolicyVersionCommand,
  CreateProvisioningClaimCommand,
  CreateProvisioningTemplateCommand,
  CreateThingCommand,
  CreateThingGroupCommand,
  CreateThingTypeCommand,
  DeletePolicyCommand,
  DeletePolicyVersionCommand,
  DeleteThingGroupCommand,
  DeleteThingTypeCommand,
  DeprecateThingTypeCommand,
  DescribeThingGroupCommand,
  DescribeThingTypeCommand,
  DetachPrincipalPolicyCommand,
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRegistrationCodeCommand,
  GetTopicRuleCommand,
  IoTClient,
  ListAttachedPoliciesCommand,
  ListCACertificatesCommand,
  ListCertificatesByCACommand,
  ListCertificatesCommand,
  ListPoliciesCommand,
  ListPolicyVersionsCommand,
  ListPrincipalPoliciesCommand,
  ListPrincipalThingsCommand,
  ListTagsForResourceCommand,
  ListTargetsForPolicyCommand,
  ListThingGroupsCommand,
  type ListThingGroupsCommandInput,
  ListThingGroupsForThingCommand,
  ListThingPrincipalsCommand,
  ListThingsCommand,
  type ListThingsCommandInput,
  ListThingsInThingGroupCommand,
  ListThingTypesCommand,
  ListTopicRulesCommand,
  paginateListCertificates,
  RegisterCACertificateCommand,
  RegisterCertificateCommand,
  RemoveThingFromThingGroupCommand,
  SetDefaultPolicyVersionCommand,
  TagResourceCommand,
  UntagResourceCommand,
  UpdateProvisioningTemplateCommand,
  UpdateThingCommand,
  UpdateThingGroupsForThingCommand,
} from '@aws-sdk/client-iot';
import { LocalIotCore } from '../../local/local-iot-core';
import { createCa, issueCertificate, issueVerificationCertificate } from '../../lib/pki';

/**
 * The local control plane's lists, creates and less-used operations through the real AWS SDK, held to the
 * `iot` service model of the AWS CLI's botocore data: default page sizes, maxima, tokens, ordering,
 * filters, idempotency compared as maps, and the operations a provisioning backend's operators use.
 */

let core: LocalIotCore;
/** The local clock runs `offset` ms ahead of the real one (DeleteThingType waits five minutes). */
let offset = 0;
let accountSeq = 0;

/** A fresh account per test, so that counts are the test's own. */
function freshClient(): { iot: IoTClient; accountId: string } {
  const accountId = String(300000000000 + ++accountSeq);
  const iot = new IoTClient({
    endpoint: core.endpoints.iot,
    region: 'us-east-1',
    credentials: { accessKeyId: accountId, secretAccessKey: 'local' },
    maxAttempts: 1,
  });
  clients.push(iot);
  return { iot, accountId };
}
const clients: IoTClient[] = [];

async function errorOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    return (error as Error).name;
  }
  throw new Error('expected the call to fail');
}

const document = (action: string) => JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }] });

beforeAll(async () => {
  core = await LocalIotCore.start({ traffic: { throttling: false }, now: () => new Date(Date.now() + offset) });
});

afterAll(async () => {
  for (const client of clients) client.destroy();
  await core.close();
});

describe('ListCertificates pages as the model says', () => {
  let iot: IoTClient;
  const created: string[] = [];

  beforeAll(async () => {
    ({ iot } = freshClient());
    for (let i = 0; i < 30; i++) {
      const { certificateId } = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: false }));
      created.push(certificateId!);
      // Distinct creation dates, so that the order is the creation order and nothing else.
      await new Promise((resolve) => setTimeout(resolve, 2));
    }
  }, 60_000);

  it('a caller that does not follow the marker gets 25 of 30 certificates, as on AWS (default page size 25)', async () => {
    const first = await iot.send(new ListCertificatesCommand({}));
    expect(first.certificates).toHaveLength(25);
    expect(first.nextMarker).toMatch(/^[A-Za-z0-9+/]+={0,2}$/);
    const second = await iot.send(new ListCertificatesCommand({ marker: first.nextMarker }));
    expect(second.certificates).toHaveLength(5);
    expect(second.nextMarker).toBeUndefined();
    const all = [...first.certificates!, ...second.certificates!].map((c) => c.certificateId);
    expect(new Set(all).size).toBe(30);
    expect([...all].sort()).toEqual([...created].sort());
  });

  it('the SDK paginator, which follows markers, gets all 30', async () => {
    const ids: string[] = [];
    for await (const page of paginateListCertificates({ client: iot }, {})) ids.push(...(page.certificates ?? []).map((c) => c.certificateId!));
    expect(ids).toHaveLength(30);
  });

  it('orders by creation date: newest first, oldest first with ascendingOrder', async () => {
    const newest = await iot.send(new ListCertificatesCommand({ pageSize: 3 }));
    expect(newest.certificates!.map((c) => c.certificateId)).toEqual([created[29], created[28], created[27]]);
    const oldest = await iot.send(new ListCertificatesCommand({ pageSize: 3, ascendingOrder: true }));
    expect(oldest.certificates!.map((c) => c.certificateId)).toEqual([created[0], created[1], created[2]]);
  });

  it('honours pageSize up to 250 and refuses more, or less than 1, with InvalidRequestException', async () => {
    expect((await iot.send(new ListCertificatesCommand({ pageSize: 250 }))).certificates).toHaveLength(30);
    expect((await iot.send(new ListCertificatesCommand({ pageSize: 7 }))).certificates).toHaveLength(7);
    expect(await errorOf(iot.send(new ListCertificatesCommand({ pageSize: 251 })))).toBe('InvalidRequestException');
    expect(await errorOf(iot.send(new ListCertificatesCommand({ pageSize: 0 })))).toBe('InvalidRequestException');
  });

  it('refuses a garbage marker, and a marker of another list, with InvalidRequestException', async () => {
    expect(await errorOf(iot.send(new ListCertificatesCommand({ marker: 'bm90LWEtdG9rZW4=' })))).toBe('InvalidRequestException');
    expect(await errorOf(iot.send(new ListCertificatesCommand({ marker: '!!' })))).toBe('InvalidRequestException');
    for (let i = 0; i < 2; i++) await iot.send(new CreatePolicyCommand({ policyName: `p${i}`, policyDocument: document('iot:Connect') }));
    const policies = await iot.send(new ListPoliciesCommand({ pageSize: 1 }));
    expect(policies.nextMarker).toBeDefined();
    expect(await errorOf(iot.send(new ListCertificatesCommand({ marker: policies.nextMarker })))).toBe('InvalidRequestException');
    // A marker of the descending list is not one of the ascending list either.
    const descending = await iot.send(new ListCertificatesCommand({ pageSize: 2 }));
    expect(await errorOf(iot.send(new ListCertificatesCommand({ marker: descending.nextMarker, ascendingOrder: true })))).toBe('InvalidRequestException');
  });
});

describe('ListCACertificates and ListCertificatesByCA', () => {
  it('pages CAs at 25 and lists only the certificates a CA signed', async () => {
    const { iot } = freshClient();
    const { registrationCode } = await iot.send(new GetRegistrationCodeCommand({}));
    const cas = [];
    for (let i = 0; i < 26; i++) {
      const ca = await createCa({ commonName: `Lists CA ${i}` });
      const verification = await issueVerificationCertificate(ca, registrationCode!);
      await iot.send(new RegisterCACertificateCommand({ caCertificate: ca.certificatePem, verificationCertificate: verification.certificatePem, setAsActive: true }));
      cas.push(ca);
    }
    const first = await iot.send(new ListCACertificatesCommand({}));
    expect(first.certificates).toHaveLength(25);
    expect(first.nextMarker).toBeDefined();
    expect((await iot.send(new ListCACertificatesCommand({ marker: first.nextMarker }))).certificates).toHaveLength(1);

    const signer = cas[0]!;
    const signerId = (await iot.send(new ListCACertificatesCommand({ ascendingOrder: true, pageSize: 1 }))).certificates![0]!.certificateId!;
    const signed = [];
    for (let i = 0; i < 3; i++) {
      const device = await issueCertificate(signer, { subject: { commonName: `by-ca-${i}` } });
      signed.push((await iot.send(new RegisterCertificateCommand({ certificatePem: device.certificatePem, caCertificatePem: signer.certificatePem }))).certificateId);
    }
    await iot.send(new CreateKeysAndCertificateCommand({}));
    const byCa = await iot.send(new ListCertificatesByCACommand({ caCertificateId: signerId, pageSize: 2 }));
    expect(byCa.certificates).toHaveLength(2);
    const rest = await iot.send(new ListCertificatesByCACommand({ caCertificateId: signerId, marker: byCa.nextMarker, pageSize: 2 }));
    expect([...byCa.certificates!, ...rest.certificates!].map((c) => c.certificateId).sort()).toEqual([...signed].sort());
    expect(rest.nextMarker).toBeUndefined();
  }, 60_000);
});

describe('the lists that ignored paging now page', () => {
  it('ListThingPrincipals, ListPrincipalThings, ListThingGroupsForThing, ListAttachedPolicies honour their page size and tokens', async () => {
    const { iot } = freshClient();
    await iot.send(new CreateThingCommand({ thingName: 'paged' }));
    const arns: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { certificateArn } = await iot.send(new CreateKeysAndCertificateCommand({}));
      arns.push(certificateArn!);
      await iot.send(new AttachThingPrincipalCommand({ thingName: 'paged', principal: certificateArn }));
    }
    const principals = await iot.send(new ListThingPrincipalsCommand({ thingName: 'paged', maxResults: 2 }));
    expect(principals.principals).toHaveLength(2);
    const morePrincipals = await iot.send(new ListThingPrincipalsCommand({ thingName: 'paged', maxResults: 2, nextToken: principals.nextToken }));
    expect([...principals.principals!, ...morePrincipals.principals!]).toEqual(arns);
    expect(morePrincipals.nextToken).toBeUndefined();
    // A token names its list and its thing.
    await iot.send(new CreateThingCommand({ thingName: 'other' }));
    expect(await errorOf(iot.send(new ListThingPrincipalsCommand({ thingName: 'other', nextToken: principals.nextToken })))).toBe('InvalidRequestException');

    for (const name of ['t1', 't2', 't3']) {
      await iot.send(new CreateThingCommand({ thingName: name }));
      await iot.send(new AttachThingPrincipalCommand({ thingName: name, principal: arns[0] }));
    }
    const things = await iot.send(new ListPrincipalThingsCommand({ principal: arns[0], maxResults: 3 }));
    expect(things.things).toHaveLength(3);
    expect(things.nextToken).toBeDefined();
    const lastThing = await iot.send(new ListPrincipalThingsCommand({ principal: arns[0], maxResults: 3, nextToken: things.nextToken }));
    expect([...things.things!, ...lastThing.things!].sort()).toEqual(['paged', 't1', 't2', 't3']);

    for (const group of ['g1', 'g2', 'g3']) {
      await iot.send(new CreateThingGroupCommand({ thingGroupName: group }));
      await iot.send(new AddThingToThingGroupCommand({ thingGroupName: group, thingName: 'paged' }));
    }
    const groups = await iot.send(new ListThingGroupsForThingCommand({ thingName: 'paged', maxResults: 2 }));
    expect(groups.thingGroups!.map((g) => g.groupName)).toEqual(['g1', 'g2']);
    const lastGroup = await iot.send(new ListThingGroupsForThingCommand({ thingName: 'paged', maxResults: 2, nextToken: groups.nextToken }));
    expect(lastGroup.thingGroups!.map((g) => g.groupName)).toEqual(['g3']);
    expect(await errorOf(iot.send(new ListThingGroupsForThingCommand({ thingName: 'paged', maxResults: 251 })))).toBe('InvalidRequestException');

    for (const policy of ['a', 'b', 'c']) {
      await iot.send(new CreatePolicyCommand({ policyName: policy, policyDocument: document('iot:Connect') }));
      await iot.send(new AttachPolicyCommand({ policyName: policy, target: arns[1] }));
    }
    const attached = await iot.send(new ListAttachedPoliciesCommand({ target: arns[1], pageSize: 2 }));
    expect(attached.policies!.map((p) => p.policyName)).toEqual(['a', 'b']);
    const lastPolicy = await iot.send(new ListAttachedPoliciesCommand({ target: arns[1], pageSize: 2, marker: attached.nextMarker }));
    expect(lastPolicy.policies!.map((p) => p.policyName)).toEqual(['c']);
    expect(lastPolicy.nextMarker).toBeUndefined();
  }, 30_000);
});

describe('ListThings', () => {
  it('filters by attribute (whole value or prefix) and by thing type, by name, but not by both', async () => {
    const { iot } = freshClient();
    await iot.send(new CreateThingTypeCommand({ thingTypeName: 'sensor' }));
    await iot.send(new CreateThingCommand({ thingName: 'b-red', attributePayload: { attributes: { color: 'red', site: 'paris-1' } } }));
    await iot.send(new CreateThingCommand({ thingName: 'a-redish', attributePayload: { attributes: { color: 'redish' } } }));
    await iot.send(new CreateThingCommand({ thingName: 'c-blue', thingTypeName: 'sensor', attributePayload: { attributes: { color: 'blue', site: 'paris-2' } } }));
    const names = async (input: ListThingsCommandInput) =>
      ((await iot.send(new ListThingsCommand(input))).things ?? []).map((t) => t.thingName);
    expect(await names({})).toEqual(['a-redish', 'b-red', 'c-blue']);
    expect(await names({ attributeName: 'color', attributeValue: 'red' })).toEqual(['b-red']);
    expect(await names({ attributeName: 'color', attributeValue: 'red', usePrefixAttributeValue: true })).toEqual(['a-redish', 'b-red']);
    expect(await names({ attributeName: 'site', attributeValue: 'paris', usePrefixAttributeValue: true })).toEqual(['b-red', 'c-blue']);
    expect(await names({ thingTypeName: 'sensor' })).toEqual(['c-blue']);
    expect(await errorOf(iot.send(new ListThingsCommand({ thingTypeName: 'sensor', attributeName: 'color', attributeValue: 'blue' })))).toBe('InvalidRequestException');
    const first = await iot.send(new ListThingsCommand({ maxResults: 2 }));
    expect(first.things!.map((t) => t.thingName)).toEqual(['a-redish', 'b-red']);
    // The token belongs to the unfiltered list.
    expect(await errorOf(iot.send(new ListThingsCommand({ maxResults: 2, nextToken: first.nextToken, thingTypeName: 'sensor' })))).toBe('InvalidRequestException');
    expect((await iot.send(new ListThingsCommand({ maxResults: 2, nextToken: first.nextToken }))).things!.map((t) => t.thingName)).toEqual(['c-blue']);
  });
});

describe('creates compare maps as maps', () => {
  it('CreateThing and CreateThingGroup with the same attributes in another key order succeed; other values conflict', async () => {
    const { iot } = freshClient();
    const thing = await iot.send(new CreateThingCommand({ thingName: 'same', attributePayload: { attributes: { a: '1', b: '2' } } }));
    const again = await iot.send(new CreateThingCommand({ thingName: 'same', attributePayload: { attributes: { b: '2', a: '1' } } }));
    expect(again.thingId).toBe(thing.thingId);
    expect(await errorOf(iot.send(new CreateThingCommand({ thingName: 'same', attributePayload: { attributes: { a: '1', b: '3' } } })))).toBe('ResourceAlreadyExistsException');

    const properties = { thingGroupDescription: 'x', attributePayload: { attributes: { k1: 'v1', k2: 'v2' } } };
    const group = await iot.send(new CreateThingGroupCommand({ thingGroupName: 'same-group', thingGroupProperties: properties }));
    const reordered = { attributePayload: { attributes: { k2: 'v2', k1: 'v1' } }, thingGroupDescription: 'x' };
    expect((await iot.send(new CreateThingGroupCommand({ thingGroupName: 'same-group', thingGroupProperties: reordered }))).thingGroupId).toBe(group.thingGroupId);
    expect(await errorOf(iot.send(new CreateThingGroupCommand({ thingGroupName: 'same-group', thingGroupProperties: { thingGroupDescription: 'y' } })))).toBe(
      'ResourceAlreadyExistsException',
    );
  });

  it('CreateThingType: the same properties succeed, other properties are ResourceAlreadyExistsException', async () => {
    const { iot } = freshClient();
    const created = await iot.send(new CreateThingTypeCommand({ thingTypeName: 'kind', thingTypeProperties: { thingTypeDescription: 'd', searchableAttributes: ['a'] } }));
    const again = await iot.send(new CreateThingTypeCommand({ thingTypeName: 'kind', thingTypeProperties: { searchableAttributes: ['a'], thingTypeDescription: 'd' } }));
    expect(again.thingTypeId).toBe(created.thingTypeId);
    expect(await errorOf(iot.send(new CreateThingTypeCommand({ thingTypeName: 'kind', thingTypeProperties: { thingTypeDescription: 'other' } })))).toBe(
      'ResourceAlreadyExistsException',
    );
  });
});

describe('thing groups', () => {
  it('DescribeThingGroup names a child group its ancestors, root first, and a static group has no status', async () => {
    const { iot } = freshClient();
    const root = await iot.send(new CreateThingGroupCommand({ thingGroupName: 'root' }));
    const middle = await iot.send(new CreateThingGroupCommand({ thingGroupName: 'middle', parentGroupName: 'root' }));
    await iot.send(new CreateThingGroupCommand({ thingGroupName: 'leaf', parentGroupName: 'middle' }));
    const leaf = await iot.send(new DescribeThingGroupCommand({ thingGroupName: 'leaf' }));
    expect(leaf.thingGroupMetadata?.parentGroupName).toBe('middle');
    expect(leaf.thingGroupMetadata?.rootToParentThingGroups).toEqual([
      { groupName: 'root', groupArn: root.thingGroupArn },
      { groupName: 'middle', groupArn: middle.thingGroupArn },
    ]);
    expect(leaf.status).toBeUndefined();
    const top = await iot.send(new DescribeThingGroupCommand({ thingGroupName: 'root' }));
    expect(top.thingGroupMetadata?.rootToParentThingGroups).toBeUndefined();

    const list = async (input: ListThingGroupsCommandInput) =>
      ((await iot.send(new ListThingGroupsCommand(input))).thingGroups ?? []).map((g) => g.groupName);
    expect(await list({})).toEqual(['leaf', 'middle', 'root']);
    expect(await list({ parentGroup: 'root' })).toEqual(['middle']);
    expect(await list({ parentGroup: 'root', recursive: true })).toEqual(['leaf', 'middle']);
    expect(await list({ namePrefixFilter: 'mi' })).toEqual(['middle']);

    // DeleteThingGroup: not while it has children; a group that is gone is deleted already.
    expect(await errorOf(iot.send(new DeleteThingGroupCommand({ thingGroupName: 'middle' })))).toBe('InvalidRequestException');
    await iot.send(new DeleteThingGroupCommand({ thingGroupName: 'leaf' }));
    await iot.send(new DeleteThingGroupCommand({ thingGroupName: 'leaf' }));
    expect(await list({})).toEqual(['middle', 'root']);
  });

  it('UpdateThingGroupsForThing, RemoveThingFromThingGroup and ListThingsInThingGroup', async () => {
    const { iot } = freshClient();
    for (const g of ['x', 'y', 'z']) await iot.send(new CreateThingGroupCommand({ thingGroupName: g }));
    for (const t of ['d1', 'd2', 'd3']) await iot.send(new CreateThingCommand({ thingName: t }));
    await iot.send(new UpdateThingGroupsForThingCommand({ thingName: 'd1', thingGroupsToAdd: ['x', 'y'] }));
    await iot.send(new UpdateThingGroupsForThingCommand({ thingName: 'd1', thingGroupsToAdd: ['z'], thingGroupsToRemove: ['x'] }));
    expect((await iot.send(new ListThingGroupsForThingCommand({ thingName: 'd1' }))).thingGroups!.map((g) => g.groupName)).toEqual(['y', 'z']);
    expect(await errorOf(iot.send(new UpdateThingGroupsForThingCommand({ thingName: 'd1', thingGroupsToAdd: ['missing'] })))).toBe('ResourceNotFoundException');
    expect(await errorOf(iot.send(new UpdateThingGroupsForThingCommand({ thingName: 'ghost', thingGroupsToAdd: ['x'] })))).toBe('ResourceNotFoundException');

    for (const t of ['d2', 'd3']) await iot.send(new AddThingToThingGroupCommand({ thingGroupName: 'y', thingName: t }));
    const first = await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'y', maxResults: 2 }));
    expect(first.things).toEqual(['d1', 'd2']);
    expect((await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'y', maxResults: 2, nextToken: first.nextToken }))).things).toEqual(['d3']);
    await iot.send(new RemoveThingFromThingGroupCommand({ thingGroupName: 'y', thingName: 'd2' }));
    expect((await iot.send(new ListThingsInThingGroupCommand({ thingGroupName: 'y' }))).things).toEqual(['d1', 'd3']);
  });
});

describe('thing types', () => {
  it('ListThingTypes, DeprecateThingType, and DeleteThingType only five minutes after deprecation and with no thing of the type', async () => {
    const { iot } = freshClient();
    await iot.send(new CreateThingTypeCommand({ thingTypeName: 'old' }));
    await iot.send(new CreateThingTypeCommand({ thingTypeName: 'new' }));
    expect((await iot.send(new ListThingTypesCommand({}))).thingTypes!.map((t) => t.thingTypeName)).toEqual(['new', 'old']);
    await iot.send(new CreateThingCommand({ thingName: 'typed', thingTypeName: 'old' }));

    expect(await errorOf(iot.send(new DeleteThingTypeCommand({ thingTypeName: 'old' })))).toBe('InvalidRequestException');
    await iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'old' }));
    const deprecated = await iot.send(new DescribeThingTypeCommand({ thingTypeName: 'old' }));
    expect(deprecated.thingTypeMetadata?.deprecated).toBe(true);
    expect(deprecated.thingTypeMetadata?.deprecationDate).toBeInstanceOf(Date);
    expect(await errorOf(iot.send(new CreateThingCommand({ thingName: 'late', thingTypeName: 'old' })))).toBe('InvalidRequestException');
    // Deprecated just now: too early.
    expect(await errorOf(iot.send(new DeleteThingTypeCommand({ thingTypeName: 'old' })))).toBe('InvalidRequestException');
    offset += 5 * 60_000 + 1_000;
    // Five minutes on, but a thing still has the type.
    expect(await errorOf(iot.send(new DeleteThingTypeCommand({ thingTypeName: 'old' })))).toBe('InvalidRequestException');
    await iot.send(new UpdateThingCommand({ thingName: 'typed', removeThingType: true }));
    await iot.send(new DeleteThingTypeCommand({ thingTypeName: 'old' }));
    expect(await errorOf(iot.send(new DescribeThingTypeCommand({ thingTypeName: 'old' })))).toBe('ResourceNotFoundException');
    expect(await errorOf(iot.send(new DeleteThingTypeCommand({ thingTypeName: 'old' })))).toBe('ResourceNotFoundException');

    await iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'new' }));
    await iot.send(new DeprecateThingTypeCommand({ thingTypeName: 'new', undoDeprecate: true }));
    expect((await iot.send(new DescribeThingTypeCommand({ thingTypeName: 'new' }))).thingTypeMetadata?.deprecated).toBe(false);
    await iot.send(new CreateThingCommand({ thingName: 'fresh', thingTypeName: 'new' }));
  });
});

describe('policy versions', () => {
  it('at most five versions; the default is operative, cannot be deleted, and is what devices are evaluated against', async () => {
    const { iot, accountId } = freshClient();
    await iot.send(new CreatePolicyCommand({ policyName: 'versioned', policyDocument: document('iot:Connect') }));
    const { certificateArn } = await iot.send(new CreateKeysAndCertificateCommand({ setAsActive: true }));
    await iot.send(new AttachPolicyCommand({ policyName: 'versioned', target: certificateArn }));
    const account = core.registry.account(accountId);
    expect(account.policies.documentsFor(certificateArn!)).toEqual([document('iot:Connect')]);

    for (let v = 2; v <= 5; v++) {
      const created = await iot.send(new CreatePolicyVersionCommand({ policyName: 'versioned', policyDocument: document(`iot:Publish${v}`) }));
      expect(created.policyVersionId).toBe(String(v));
      expect(created.isDefaultVersion).toBe(false);
    }
    expect(await errorOf(iot.send(new CreatePolicyVersionCommand({ policyName: 'versioned', policyDocument: document('iot:Receive') })))).toBe('VersionsLimitExceededException');
    // A non-default version is not evaluated.
    expect(account.policies.documentsFor(certificateArn!)).toEqual([document('iot:Connect')]);

    await iot.send(new SetDefaultPolicyVersionCommand({ policyName: 'versioned', policyVersionId: '3' }));
    const policy = await iot.send(new GetPolicyCommand({ policyName: 'versioned' }));
    expect(policy.defaultVersionId).toBe('3');
    expect(policy.policyDocument).toBe(document('iot:Publish3'));
    expect(account.policies.documentsFor(certificateArn!)).toEqual([document('iot:Publish3')]);
    const version = await iot.send(new GetPolicyVersionCommand({ policyName: 'versioned', policyVersionId: '1' }));
    expect(version).toMatchObject({ policyName: 'versioned', policyVersionId: '1', isDefaultVersion: false, policyDocument: document('iot:Connect') });
    const versions = (await iot.send(new ListPolicyVersionsCommand({ policyName: 'versioned' }))).policyVersions!;
    expect(versions.map((v) => [v.versionId, v.isDefaultVersion])).toEqual([
      ['5', false],
      ['4', false],
      ['3', true],
      ['2', false],
      ['1', false],
    ]);

    expect(await errorOf(iot.send(new DeletePolicyVersionCommand({ policyName: 'versioned', policyVersionId: '3' })))).toBe('DeleteConflictException');
    expect(await errorOf(iot.send(new GetPolicyVersionCommand({ policyName: 'versioned', policyVersionId: '9' })))).toBe('ResourceNotFoundException');
    await iot.send(new DeletePolicyVersionCommand({ policyName: 'versioned', policyVersionId: '2' }));
    // A sixth version fits again, after one was deleted; ids keep counting.
    expect((await iot.send(new CreatePolicyVersionCommand({ policyName: 'versioned', policyDocument: document('iot:Receive'), setAsDefault: true }))).policyVersionId).toBe('6');
    expect(account.policies.documentsFor(certificateArn!)).toEqual([document('iot:Receive')]);

    await iot.send(new DetachPrincipalPolicyCommand({ policyName: 'versioned', principal: certificateArn }));
    // Not while it has non-default versions.
    expect(await errorOf(iot.send(new DeletePolicyCommand({ policyName: 'versioned' })))).toBe('DeleteConflictException');
    for (const v of ['1', '3', '4', '5']) await iot.send(new DeletePolicyVersionCommand({ policyName: 'versioned', policyVersionId: v }));
    await iot.send(new DeletePolicyCommand({ policyName: 'versioned' }));
  });
});

describe('policy attachments', () => {
  it('AttachPolicy takes a certificate ARN that exists, a thing group ARN or a Cognito identity id, and nothing else', async () => {
    const { iot, accountId } = freshClient();
    await iot.send(new CreatePolicyCommand({ policyName: 'p', policyDocument: document('iot:Connect') }));
    await iot.send(new CreatePolicyCommand({ policyName: 'q', policyDocument: document('iot:Connect') }));
    const { certificateArn } = await iot.send(new CreateKeysAndCertificateCommand({}));
    const group = await iot.send(new CreateThingGroupCommand({ thingGroupName: 'fleet' }));
    const cognito = 'us-east-1:0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';

    expect(await errorOf(iot.send(new AttachPolicyCommand({ policyName: 'p', target: 'anything at all' })))).toBe('InvalidRequestException');
    const missing = `arn:aws:iot:us-east-1:${accountId}:cert/${'a'.repeat(64)}`;
    expect(await errorOf(iot.send(new AttachPolicyCommand({ policyName: 'p', target: missing })))).toBe('ResourceNotFoundException');
    expect(await errorOf(iot.send(new AttachPolicyCommand({ policyName: 'p', target: `arn:aws:iot:us-east-1:${accountId}:thinggroup/none` })))).toBe(
      'ResourceNotFoundException',
    );
    for (const target of [certificateArn!, group.thingGroupArn!, cognito]) await iot.send(new AttachPolicyCommand({ policyName: 'p', target }));
    await iot.send(new AttachPolicyCommand({ policyName: 'q', target: certificateArn }));

    const targets = await iot.send(new ListTargetsForPolicyCommand({ policyName: 'p', pageSize: 2 }));
    const moreTargets = await iot.send(new ListTargetsForPolicyCommand({ policyName: 'p', pageSize: 2, marker: targets.nextMarker }));
    expect([...targets.targets!, ...moreTargets.targets!]).toEqual([certificateArn, group.thingGroupArn, cognito]);
    expect((await iot.send(new ListPrincipalPoliciesCommand({ principal: certificateArn }))).policies!.map((p) => p.policyName)).toEqual(['p', 'q']);
    expect((await iot.send(new ListPrincipalPoliciesCommand({ principal: certificateArn, ascendingOrder: false }))).policies!.map((p) => p.policyName)).toEqual(['q', 'p']);
    expect((await iot.send(new ListPoliciesCommand({ ascendingOrder: true }))).policies!.map((p) => p.policyName)).toEqual(['p', 'q']);

    await iot.send(new DetachPrincipalPolicyCommand({ policyName: 'p', principal: cognito }));
    expect((await iot.send(new ListTargetsForPolicyCommand({ policyName: 'p' }))).targets).toEqual([certificateArn, group.thingGroupArn]);
    // A child group inherits its parent's policies with `recursive`.
    await iot.send(new CreateThingGroupCommand({ thingGroupName: 'sub', parentGroupName: 'fleet' }));
    const sub = `arn:aws:iot:us-east-1:${accountId}:thinggroup/sub`;
    expect((await iot.send(new ListAttachedPoliciesCommand({ target: sub }))).policies).toEqual([]);
    expect((await iot.send(new ListAttachedPoliciesCommand({ target: sub, recursive: true }))).policies!.map((p) => p.policyName)).toEqual(['p']);
  });
});

describe('topic rules', () => {
  it('GetTopicRule and ListTopicRules show the deployed rules read-only; a missing rule is UnauthorizedException, as AWS answers', async () => {
    const { iot, accountId } = freshClient();
    const account = core.registry.account(accountId);
    const functionArn = `arn:aws:lambda:us-east-1:${accountId}:function:handler`;
    core.addRule({ ruleName: 'b_rule', sql: "SELECT * FROM '$aws/events/certificates/registered/+'", actions: [{ lambda: { functionArn } }] }, account);
    core.addRule({ ruleName: 'a_rule', sql: "SELECT * FROM 'devices/+/status'", actions: [{ lambda: { functionArn } }], ruleDisabled: true }, account);

    const { ruleArn, rule } = await iot.send(new GetTopicRuleCommand({ ruleName: 'b_rule' }));
    expect(ruleArn).toBe(`arn:aws:iot:us-east-1:${accountId}:rule/b_rule`);
    expect(rule).toMatchObject({ ruleName: 'b_rule', sql: "SELECT * FROM '$aws/events/certificates/registered/+'", ruleDisabled: false, actions: [{ lambda: { functionArn } }] });
    expect(rule?.createdAt).toBeInstanceOf(Date);
    expect(await errorOf(iot.send(new GetTopicRuleCommand({ ruleName: 'nope' })))).toBe('UnauthorizedException');

    const all = await iot.send(new ListTopicRulesCommand({}));
    expect(all.rules!.map((r) => [r.ruleName, r.topicPattern, r.ruleDisabled])).toEqual([
      ['a_rule', 'devices/+/status', true],
      ['b_rule', '$aws/events/certificates/registered/+', false],
    ]);
    expect((await iot.send(new ListTopicRulesCommand({ ruleDisabled: false }))).rules!.map((r) => r.ruleName)).toEqual(['b_rule']);
    expect((await iot.send(new ListTopicRulesCommand({ topic: 'devices/+/status' }))).rules!.map((r) => r.ruleName)).toEqual(['a_rule']);
    const one = await iot.send(new ListTopicRulesCommand({ maxResults: 1 }));
    expect((await iot.send(new ListTopicRulesCommand({ maxResults: 1, nextToken: one.nextToken }))).rules!.map((r) => r.ruleName)).toEqual(['b_rule']);
    // A disabled rule does not fire.
    expect(core.publish(account, 'devices/d1/status', {})).toEqual([]);
  });
});

describe('tags', () => {
  it('are stored from the create calls and by TagResource, removed by UntagResource, listed by ListTagsForResource', async () => {
    const { iot, accountId } = freshClient();
    const group = await iot.send(new CreateThingGroupCommand({ thingGroupName: 'tagged', tags: [{ Key: 'team', Value: 'ops' }] }));
    const policy = await iot.send(new CreatePolicyCommand({ policyName: 'tagged', policyDocument: document('iot:Connect'), tags: [{ Key: 'env', Value: 'dev' }] }));
    const tags = async (resourceArn: string) => (await iot.send(new ListTagsForResourceCommand({ resourceArn }))).tags;
    expect(await tags(group.thingGroupArn!)).toEqual([{ Key: 'team', Value: 'ops' }]);
    expect(await tags(policy.policyArn!)).toEqual([{ Key: 'env', Value: 'dev' }]);

    await iot.send(new TagResourceCommand({ resourceArn: group.thingGroupArn, tags: [{ Key: 'team', Value: 'iot' }, { Key: 'cost', Value: '42' }] }));
    expect(await tags(group.thingGroupArn!)).toEqual([
      { Key: 'team', Value: 'iot' },
      { Key: 'cost', Value: '42' },
    ]);
    await iot.send(new UntagResourceCommand({ resourceArn: group.thingGroupArn, tagKeys: ['team', 'absent'] }));
    expect(await tags(group.thingGroupArn!)).toEqual([{ Key: 'cost', Value: '42' }]);

    expect(await errorOf(iot.send(new TagResourceCommand({ resourceArn: `arn:aws:iot:us-east-1:${accountId}:thinggroup/none`, tags: [{ Key: 'k', Value: 'v' }] })))).toBe(
      'ResourceNotFoundException',
    );
    expect(await errorOf(iot.send(new ListTagsForResourceCommand({ resourceArn: 'not-an-arn' })))).toBe('InvalidRequestException');
    // Bad tags on a create call create nothing.
    expect(await errorOf(iot.send(new CreateThingGroupCommand({ thingGroupName: 'bad-tags', tags: [{ Key: '', Value: 'v' }] })))).toBe('InvalidRequestException');
    expect(await errorOf(iot.send(new DescribeThingGroupCommand({ thingGroupName: 'bad-tags' })))).toBe('ResourceNotFoundException');
    // A deleted group's tags go with it.
    await iot.send(new DeleteThingGroupCommand({ thingGroupName: 'tagged' }));
    await iot.send(new CreateThingGroupCommand({ thingGroupName: 'tagged' }));
    expect(await tags(group.thingGroupArn!)).toEqual([]);
  });
});

describe('provisioning templates and claims', () => {
  const templateBody = JSON.stringify({ Parameters: {}, Resources: { thing: { Type: 'AWS::IoT::Thing', Properties: { ThingName: 'x' } } } });
  const role = 'arn:aws:iam::123456789012:role/provisioning';

  it('UpdateProvisioningTemplate makes the checks CreateProvisioningTemplate makes, and changes nothing when they fail', async () => {
    const { iot } = freshClient();
    await iot.send(new CreateProvisioningTemplateCommand({ templateName: 'checked', templateBody, provisioningRoleArn: role, enabled: true }));
    expect(await errorOf(iot.send(new UpdateProvisioningTemplateCommand({ templateName: 'checked', provisioningRoleArn: 'short', description: 'changed' })))).toBe(
      'InvalidRequestException',
    );
    expect(
      await errorOf(iot.send(new UpdateProvisioningTemplateCommand({ templateName: 'checked', preProvisioningHook: { targetArn: 'arn:aws:sns:us-east-1:123456789012:topic' } }))),
    ).toBe('InvalidRequestException');
    await iot.send(new CreateProvisioningTemplateCommand({ templateName: 'jitp', templateBody, provisioningRoleArn: role, type: 'JITP' }));
    expect(
      await errorOf(
        iot.send(new UpdateProvisioningTemplateCommand({ templateName: 'jitp', preProvisioningHook: { targetArn: 'arn:aws:lambda:us-east-1:123456789012:function:hook' } })),
      ),
    ).toBe('InvalidRequestException');
  });

  it("CreateProvisioningClaim's certificate expires when the claim does, on the local IoT Core's clock", async () => {
    const { iot } = freshClient();
    await iot.send(new CreateProvisioningTemplateCommand({ templateName: 'claims', templateBody, provisioningRoleArn: role, enabled: true }));
    const claim = await iot.send(new CreateProvisioningClaimCommand({ templateName: 'claims' }));
    const notAfter = new Date(new X509Certificate(claim.certificatePem!).validTo);
    // The certificate's notAfter has second precision.
    expect(Math.abs(notAfter.getTime() - claim.expiration!.getTime())).toBeLessThan(1_000);
    expect(claim.expiration!.getTime() - Date.now()).toBeGreaterThan(offset);
  });
});
