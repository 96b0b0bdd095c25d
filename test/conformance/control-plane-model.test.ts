import { internalErrorOf, servedOperations } from '../../local/iot-core/control-plane';
import { ERROR_STATUS } from '../../local/iot-core/errors';
import { LocalIotCore } from '../../local/local-iot-core';
import { checkError, checkInput, checkOutput } from '../support/model-checker';
import { iotServiceModel, operationOf } from '../support/service-model';
import { ACCOUNT_ID, Fixtures, scenarios, type ErrorCase } from './scenarios';

/**
 * The local control plane held to AWS's own `iot` service model (test/conformance/model/), operation by
 * operation: every operation the route table serves is called over raw HTTP as the model binds it, and its
 * raw answer — not what an SDK makes of it — must be exactly what the operation's output shape allows; one
 * failing call each must answer one of the operation's documented errors, with that error's status. A route
 * added without a scenario here fails this test.
 */

const model = iotServiceModel();
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

  it('answers every error code with the httpStatusCode of its error shape', () => {
    const differences = Object.entries(ERROR_STATUS)
      .filter(([code, status]) => model.shapes[code]?.error?.httpStatusCode !== status)
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
