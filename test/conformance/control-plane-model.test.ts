import { servedOperations } from '../../local/iot-core/control-plane';
import { LocalIotCore } from '../../local/local-iot-core';
import { checkError, checkInput, checkOutput } from '../support/model-checker';
import { iotServiceModel, operationOf } from '../support/service-model';
import { Fixtures, scenarios } from './scenarios';

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

  it('has a scenario for every served operation, and none for an operation it does not serve', () => {
    const names = served.map((s) => s.operation);
    expect(names.filter((name) => !scenarios[name])).toEqual([]);
    expect(Object.keys(scenarios).filter((name) => !names.includes(name))).toEqual([]);
  });
});

describe('every served operation answers as its output shape says', () => {
  it.each(served.map((s) => [s.operation]))('%s', async (operation) => {
    const input = await scenarioOf(operation).call(fx);
    expect(checkInput(model, operation, input)).toEqual([]);

    const response = await fx.call(operation, input);

    expect(checkOutput(model, operation, response)).toEqual([]);
    // A list answered empty would leave its element shape unchecked: the scenario must give it items.
    expect(emptyLists(response.text)).toEqual([]);
  });
});

describe('every served operation fails as its documented errors say', () => {
  it.each(served.map((s) => [s.operation]))('%s', async (operation) => {
    const { error } = scenarioOf(operation);
    const input = await error.call(fx);

    const response = await fx.call(operation, input);

    expect(checkError(model, operation, response)).toEqual({ code: error.expect, problems: [] });
  });
});
