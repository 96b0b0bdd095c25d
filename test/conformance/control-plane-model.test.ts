import { internalErrorOf, servedOperations } from '../../local/iot-core/control-plane';
import { ERROR_STATUS } from '../../local/iot-core/errors';
import { LocalIotCore } from '../../local/local-iot-core';
import { allMemberPaths, checkError, checkInput, checkOutput, memberPaths } from '../support/model-checker';
import { iotPaginators, iotServiceModel, operationOf } from '../support/service-model';
import { ACCOUNT_ID, Fixtures, scenarios, type ErrorCase } from './scenarios';

/**
 * The local control plane held to AWS's own `iot` service model (test/conformance/model/), operation by
 * operation: every operation the route table serves is called over raw HTTP as the model binds it, and its
 * raw answer — not what an SDK makes of it — must be exactly what the operation's output shape allows; one
 * failing call each must answer one of the operation's documented errors, with that error's status. A route
 * added without a scenario here fails this test.
 */

const model = iotServiceModel();
const paginators = iotPaginators();

/**
 * Output members that no scenario answers because the local IoT Core does not model what they describe, each
 * with the reason. `*` ends a prefix. Any other member never answered fails the coverage test: a scenario must
 * make the local IoT Core answer it (or the member is a gap to declare here).
 */
const NOT_ANSWERED: Record<string, Record<string, string>> = {
  DescribeCertificate: {
    'certificateDescription.previousOwnedBy': 'certificate transfer between accounts is not modelled',
    'certificateDescription.transferData.*': 'certificate transfer between accounts is not modelled',
  },
  DescribeThing: { billingGroupName: 'billing groups are not modelled' },
  ListThingTypes: { 'thingTypes[].thingTypeProperties.mqtt5Configuration': "thing types' MQTT 5 propagating attributes are not modelled" },
  DescribeThingType: { 'thingTypeProperties.mqtt5Configuration': "thing types' MQTT 5 propagating attributes are not modelled" },
  DescribeThingGroup: {
    indexName: 'dynamic thing groups are not modelled',
    queryString: 'dynamic thing groups are not modelled',
    queryVersion: 'dynamic thing groups are not modelled',
    status: 'dynamic thing groups are not modelled (a static group has no status)',
    'thingGroupProperties.attributePayload.merge': 'an input flag (UpdateThingGroup); whether AWS echoes it is unverified, the local IoT Core does not',
  },
  GetTopicRule: {
    'rule.actions[].*': 'the rules engine runs Lambda actions only (local/iot-core/rules.ts refuses others when a rule is added)',
    'rule.errorAction.*': 'the rules engine runs Lambda actions only',
  },
  DescribeJob: {
    'job.presignedUrlConfig.*': 'presigned S3 URLs in job documents are not modelled',
    'job.presignedUrlConfig': 'presigned S3 URLs in job documents are not modelled',
    'job.namespaceId': 'job namespaces (AWS IoT Device Management integrations) are not modelled',
    'job.jobExecutionsRetryConfig': 'job execution retries are not modelled',
    'job.jobExecutionsRetryConfig.*': 'job execution retries are not modelled',
    'job.documentParameters': 'managed job templates are not modelled',
    'job.schedulingConfig': 'scheduled jobs are not modelled',
    'job.schedulingConfig.*': 'scheduled jobs are not modelled',
    'job.scheduledJobRollouts': 'scheduled jobs are not modelled',
    'job.scheduledJobRollouts[].*': 'scheduled jobs are not modelled',
    'job.destinationPackageVersions': 'software package catalog is not modelled',
  },
  ListJobs: { 'jobs[].thingGroupId': 'continuous jobs of dynamic thing groups are not modelled (AWS names the group only for those; an assumption)' },
  DescribeJobTemplate: {
    presignedUrlConfig: 'presigned S3 URLs in job documents are not modelled',
    'presignedUrlConfig.*': 'presigned S3 URLs in job documents are not modelled',
    jobExecutionsRetryConfig: 'job execution retries are not modelled',
    'jobExecutionsRetryConfig.*': 'job execution retries are not modelled',
    maintenanceWindows: 'scheduled jobs are not modelled',
    'maintenanceWindows[].*': 'scheduled jobs are not modelled',
    destinationPackageVersions: 'software package catalog is not modelled',
  },
};
const served = servedOperations();

let core: LocalIotCore;
let fx: Fixtures;

beforeAll(async () => {
  let offset = 0;
  core = await LocalIotCore.start({ traffic: { throttling: false }, now: () => new Date(Date.now() + offset) });
  fx = new Fixtures(core, model, (ms) => (offset += ms));
});

afterAll(async () => {
  await core.close();
});

afterEach(() => fx.unthrottle());

const emptyLists = (text: string) =>
  Object.entries(text ? (JSON.parse(text) as Record<string, unknown>) : {})
    .filter(([, value]) => Array.isArray(value) && value.length === 0)
    .map(([name]) => name);

/** The output members the scenarios' answers held, per operation (for the coverage test at the end). */
const answered = new Map<string, Set<string>>();
const answeredOf = (operation: string) => answered.get(operation) ?? answered.set(operation, new Set()).get(operation)!;

const scenarioOf = (operation: string) => {
  const scenario = scenarios[operation];
  if (!scenario) throw new Error(`${operation} is served but has no conformance scenario: add one to test/conformance/scenarios.ts`);
  return scenario;
};

describe('the route table against the model', () => {
  it.each(served.map((s) => [s.operation, s]))('%s is served at the method and requestUri of the model', (_, { operation, method, template }) => {
    const { http } = operationOf(model, operation);
    // Path parameter names are the route's own (`{certificateId}` where the model says `{caCertificateId}`).
    const shape = (uri: string) => uri.split('?')[0]!.replace(/\{\w+\+?\}/g, '{}');
    expect(`${method} ${shape(template)}`).toBe(`${http.method} ${shape(http.requestUri)}`);
  });

  // The errors of IAM's evaluation are AWS's common errors, in no operation's model: IoT answers a denied call
  // 403 AccessDeniedException (observed: aws-amplify/aws-sdk-android#640 "Status Code: 403; Error Code:
  // AccessDeniedException"), an unknown or expired token UnrecognizedClientException / ExpiredTokenException (403,
  // AWS's common errors). They are the only codes allowed outside the model, each with that status.
  const COMMON_ERRORS: Record<string, number> = { AccessDeniedException: 403, UnrecognizedClientException: 403, ExpiredTokenException: 403 };

  it('answers every error code with the httpStatusCode of its error shape (or of the common error it is)', () => {
    const differences = Object.entries(ERROR_STATUS)
      .filter(([code, status]) => (model.shapes[code] ? model.shapes[code]?.error?.httpStatusCode !== status : COMMON_ERRORS[code] !== status))
      .map(([code, status]) => `${code}: local ${status}, model ${model.shapes[code]?.error?.httpStatusCode ?? '(no such error)'}`);
    expect(differences).toEqual([]);
  });

  it('answers an unexpected failure of every served operation with the internal error it documents', () => {
    const undocumented = served
      .filter(({ operation }) => !(operationOf(model, operation).errors ?? []).some((e) => e.shape === internalErrorOf(operation)))
      .map(({ operation }) => `${operation}: ${internalErrorOf(operation)}`);
    expect(undocumented).toEqual([]);
  });

  it.each(['GetTopicRule', 'ListTopicRules', 'DescribeThing'])('answers an unexpected failure of %s as the model documents it (status, code)', async (operation) => {
    const input = await scenarioOf(operation).call(fx);
    // A fault inside the services (a bug, not a documented error): the registry's topic rules and things throw.
    const rules = jest.spyOn(core.rules(), 'list').mockImplementation(() => {
      throw new Error('injected failure');
    });
    const things = jest.spyOn(core.registry.account(ACCOUNT_ID).things, 'describe').mockImplementation(() => {
      throw new Error('injected failure');
    });
    const logged = jest.spyOn(console, 'error').mockImplementation(() => {});
    try {
      const response = await fx.call(operation, input);

      expect(checkError(model, operation, response)).toEqual({ code: internalErrorOf(operation), problems: [] });
      expect(logged).toHaveBeenCalled();
    } finally {
      rules.mockRestore();
      things.mockRestore();
      logged.mockRestore();
    }
  });

  it('has a scenario for every served operation, and none for an operation it does not serve', () => {
    const names = served.map((s) => s.operation);
    expect(names.filter((name) => !scenarios[name])).toEqual([]);
    expect(Object.keys(scenarios).filter((name) => !names.includes(name))).toEqual([]);
  });
});

describe('every served operation answers as its output shape says', () => {
  const calls = served.flatMap(({ operation }) => {
    const variants = scenarios[operation]?.variants ?? [];
    return [
      [operation, (f: Fixtures) => scenarioOf(operation).call(f)] as const,
      ...variants.map((variant, i) => [`${operation} (variant ${i + 1})`, variant] as const),
    ];
  });

  it.each(calls)('%s', async (title, call) => {
    const operation = title.split(' ')[0]!;
    const input = await call(fx);
    expect(checkInput(model, operation, input)).toEqual([]);

    const response = await fx.call(operation, input);

    expect(checkOutput(model, operation, response)).toEqual([]);
    const { output } = operationOf(model, operation);
    if (output && response.text) memberPaths(model, output.shape, JSON.parse(response.text), '', answeredOf(operation));
    // A list answered empty would leave its element shape unchecked: the scenario must give it items.
    expect(emptyLists(response.text)).toEqual([]);
  });
});

describe('every served operation fails as its documented errors say', () => {
  const cases = served.flatMap(({ operation }) => {
    const scenario = scenarios[operation];
    const all: ErrorCase[] = scenario ? [scenario.error, ...(scenario.errors ?? [])] : [{ call: () => Promise.resolve({}), expect: '(no scenario)' }];
    return all.map((error) => [`${operation}: ${error.expect}${error.when ? ` when ${error.when}` : ''}`, operation, error] as const);
  });

  it.each(cases)('%s', async (_, operation, error) => {
    scenarioOf(operation);
    const input = await error.call(fx);

    const response = await fx.call(operation, input);

    expect(checkError(model, operation, response, error.undocumented ? { undocumented: [error.expect] } : {})).toEqual({ code: error.expect, problems: [] });
  });
});

// Reads what the output tests above recorded: it runs after them, in the same file.
describe('the scenarios exercise the output shapes', () => {
  it('answer every member of every served output somewhere, or the member is declared not modelled', () => {
    const unanswered = served.flatMap(({ operation }) => {
      const { output } = operationOf(model, operation);
      if (!output) return [];
      const seen = answered.get(operation) ?? new Set<string>();
      // The next-page token is held to the model by the paging test (control-plane-paging.test.ts).
      const token = paginators[operation]?.output_token;
      if (token) seen.add(token);
      const declared = Object.keys(NOT_ANSWERED[operation] ?? {});
      const covered = (path: string) =>
        seen.has(path) || declared.some((d) => (d.endsWith('*') ? path.startsWith(d.slice(0, -1)) : path === d));
      // A member is counted where its parents were answered: under one not answered, only that one counts.
      const all = [...allMemberPaths(model, output.shape)];
      const parentsOf = (path: string) => all.filter((parent) => parent !== path && path.startsWith(parent) && /^[.[{]/.test(path.slice(parent.length)));
      return all.filter((path) => !covered(path) && parentsOf(path).every((parent) => seen.has(parent))).map((path) => `${operation}.${path}`);
    });
    expect(unanswered).toEqual([]);
  });
});
