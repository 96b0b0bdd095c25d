import { servedOperations } from '../../local/iot-core/control-plane';
import { LocalIotCore } from '../../local/local-iot-core';
import { checkOutput } from '../support/model-checker';
import { iotPaginators, iotServiceModel } from '../support/service-model';
import { Fixtures, type Input } from './scenarios';

/**
 * Every served list operation pages as the model's paginators say (botocore `paginators-1.json`, pinned beside
 * the service model): with the paginator's limit key at 1, each page holds at most one item and names the next
 * page by the paginator's output token; following the tokens yields every item once, exactly what one large
 * page holds, and the last page has no token. A caller that reads one page only misses items, as on AWS.
 */

const model = iotServiceModel();
const paginators = iotPaginators();
const paged = servedOperations()
  .map((s) => s.operation)
  .filter((operation) => paginators[operation]);

const times = async (n: number, make: () => unknown) => {
  for (let i = 0; i < n; i++) await make();
};

/** Three items made by `make`, listed by `input`. */
const threeThen =
  (make: (fx: Fixtures) => unknown, input: Input | ((fx: Fixtures) => Promise<Input>)) =>
  async (fx: Fixtures): Promise<Input> => {
    await times(3, () => make(fx));
    return typeof input === 'function' ? input(fx) : input;
  };

/** For each paged operation: three items or more in one scope, and the input that lists that scope. */
const lists: Record<string, (fx: Fixtures) => Promise<Input>> = {
  ListProvisioningTemplates: threeThen((fx) => fx.template(), {}),
  ListCACertificates: threeThen((fx) => fx.sniOnlyCa(), {}),
  ListCertificates: threeThen((fx) => fx.certificate(), {}),
  ListCertificatesByCA: threeThen((fx) => fx.registeredCertificate(), async (fx) => ({ caCertificateId: (await fx.ca()).certificateId })),
  ListThings: threeThen((fx) => fx.thing(), {}),
  ListThingPrincipals: async (fx) => {
    const { thingName } = await fx.thing();
    await times(3, async () => fx.ok('AttachThingPrincipal', { thingName, principal: (await fx.certificate()).certificateArn }));
    return { thingName };
  },
  ListThingGroupsForThing: async (fx) => {
    const { thingName } = await fx.thing();
    await times(3, async () => fx.ok('AddThingToThingGroup', { thingName, thingGroupName: await fx.thingGroup() }));
    return { thingName };
  },
  ListPrincipalThings: async (fx) => {
    const { certificateArn } = await fx.certificate();
    await times(3, async () => fx.ok('AttachThingPrincipal', { thingName: (await fx.thing()).thingName, principal: certificateArn }));
    return { principal: certificateArn };
  },
  ListThingTypes: threeThen((fx) => fx.thingType(), {}),
  ListThingsInThingGroup: async (fx) => {
    const thingGroupName = await fx.thingGroup();
    await times(3, async () => fx.ok('AddThingToThingGroup', { thingName: (await fx.thing()).thingName, thingGroupName }));
    return { thingGroupName };
  },
  ListThingGroups: threeThen((fx) => fx.thingGroup(), {}),
  ListPolicies: threeThen((fx) => fx.policy(), {}),
  ListPrincipalPolicies: async (fx) => {
    const { certificateArn } = await fx.certificate();
    await times(3, async () => fx.ok('AttachPolicy', { policyName: await fx.policy(), target: certificateArn }));
    return { principal: certificateArn };
  },
  ListTargetsForPolicy: async (fx) => {
    const policyName = await fx.policy();
    await times(3, async () => fx.ok('AttachPolicy', { policyName, target: (await fx.certificate()).certificateArn }));
    return { policyName };
  },
  ListAttachedPolicies: async (fx) => {
    const { certificateArn } = await fx.certificate();
    await times(3, async () => fx.ok('AttachPolicy', { policyName: await fx.policy(), target: certificateArn }));
    return { target: certificateArn };
  },
  ListRoleAliases: threeThen((fx) => fx.roleAlias(), {}),
  ListTopicRules: threeThen((fx) => fx.topicRule(), {}),
  ListJobTemplates: threeThen((fx) => fx.jobTemplate(), {}),
  ListJobs: threeThen((fx) => fx.job(), {}),
  ListJobExecutionsForJob: async (fx) => {
    const jobId = fx.name('job');
    const targets = [(await fx.thing()).thingArn, (await fx.thing()).thingArn, (await fx.thing()).thingArn];
    await fx.ok('CreateJob', { jobId, targets, document: JSON.stringify({ operation: 'paging' }) });
    return { jobId };
  },
  ListJobExecutionsForThing: async (fx) => {
    const { thingName, thingArn } = await fx.thing();
    await times(3, () => fx.ok('CreateJob', { jobId: fx.name('job'), targets: [thingArn], document: JSON.stringify({ operation: 'paging' }) }));
    return { thingName };
  },
  ListTagsForResource: async (fx) => {
    const resourceArn = await fx.thingGroupArn();
    await fx.ok('TagResource', { resourceArn, tags: [{ Key: 'a', Value: '1' }, { Key: 'b', Value: '2' }, { Key: 'c', Value: '3' }] });
    return { resourceArn };
  },
};

let core: LocalIotCore;
let fx: Fixtures;

beforeAll(async () => {
  core = await LocalIotCore.start({ traffic: { throttling: false } });
  fx = new Fixtures(core, model, () => {
    throw new Error('the paging test keeps the clock');
  });
});

afterAll(async () => {
  await core.close();
});

it('has a listing for every served operation the paginators name', () => {
  expect(paged.filter((operation) => !lists[operation])).toEqual([]);
  expect(paged.length).toBeGreaterThanOrEqual(18);
});

it.each(paged.map((operation) => [operation]))('%s pages as its paginator says', async (operation) => {
  const paginator = paginators[operation]!;
  const input = await lists[operation]!(fx);
  const page = async (extra: Input) => {
    const response = await fx.call(operation, { ...input, ...extra });
    expect(checkOutput(model, operation, response)).toEqual([]);
    return JSON.parse(response.text) as Record<string, unknown>;
  };

  // One large page (the limit's maximum) holds them all.
  const whole = await page(paginator.limit_key ? { [paginator.limit_key]: 250 } : {});
  const all = whole[paginator.result_key] as unknown[];
  expect(all.length).toBeGreaterThanOrEqual(3);
  expect(whole[paginator.output_token]).toBeUndefined();
  if (!paginator.limit_key) return;

  // Pages of one, following the output token into the input token.
  const pages: unknown[][] = [];
  let token: unknown;
  do {
    const answer = await page({ [paginator.limit_key]: 1, ...(token === undefined ? {} : { [paginator.input_token]: token }) });
    const items = answer[paginator.result_key] as unknown[];
    expect(items.length).toBeLessThanOrEqual(1);
    pages.push(items);
    token = answer[paginator.output_token];
    expect(pages.length).toBeLessThanOrEqual(all.length + 1);
  } while (token !== undefined);

  // The first page alone misses items; all pages together are the whole list, each item once, in its order.
  expect(pages[0]!.length).toBeLessThan(all.length);
  expect(pages.flat()).toEqual(all);
});
