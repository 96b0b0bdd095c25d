import { parseShadowTopic, serveShadowRequest, ShadowError, ShadowService, type JsonObject } from '../../local/iot-core/shadows';

/**
 * The Device Shadow service's document rules, as AWS documents them (device-shadow-document.html,
 * device-shadow-error-messages.html), without a transport.
 */

const ACCOUNT = '111111111111';
const THING = { thingName: 'pump-1' };
let clock = 1_700_000_000_000;
const service = () => new ShadowService(() => new Date(clock));
const body = (document: unknown) => Buffer.from(JSON.stringify(document));

function refusal(run: () => unknown): { code: number; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof ShadowError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('the request was accepted');
}

describe('the Device Shadow service', () => {
  it('creates a shadow on the first update (version 1) and answers with the request state, its metadata and the clientToken', () => {
    const shadows = service();
    const { accepted, documents } = shadows.update(ACCOUNT, THING, body({ state: { reported: { rpm: 900 } }, clientToken: 'c-1' }));
    expect(accepted).toEqual({ state: { reported: { rpm: 900 } }, metadata: { reported: { rpm: { timestamp: 1_700_000_000 } } }, version: 1, timestamp: 1_700_000_000, clientToken: 'c-1' });
    expect(documents).toEqual({ current: { state: { reported: { rpm: 900 } }, metadata: { reported: { rpm: { timestamp: 1_700_000_000 } } }, version: 1 }, timestamp: 1_700_000_000, clientToken: 'c-1' });
    expect(documents).not.toHaveProperty('previous');
  });

  it('merges objects key by key, deletes a key set to null, replaces arrays whole, and bumps the version on every update', () => {
    const shadows = service();
    shadows.update(ACCOUNT, THING, body({ state: { reported: { mode: { fan: 'auto', heat: 'off' }, zones: [1, 2, 3], rpm: 900 } } }));
    clock += 5_000;
    shadows.update(ACCOUNT, THING, body({ state: { reported: { mode: { heat: 'on' }, zones: [4], rpm: null } } }));
    const shadow = shadows.get(ACCOUNT, THING);
    expect(shadow.state).toEqual({ reported: { mode: { fan: 'auto', heat: 'on' }, zones: [4] } });
    expect(shadow.metadata).toEqual({ reported: { mode: { fan: { timestamp: 1_700_000_000 }, heat: { timestamp: 1_700_000_005 } }, zones: [{ timestamp: 1_700_000_005 }] } });
    expect(shadow.version).toBe(2);
  });

  it('has a delta only where desired differs from reported, with the desired metadata, and none once they agree', () => {
    const shadows = service();
    shadows.update(ACCOUNT, THING, body({ state: { reported: { color: 'green', mode: { fan: 'auto' } } } }));
    const update = shadows.update(ACCOUNT, THING, body({ state: { desired: { color: 'red', mode: { fan: 'auto' } } } }));
    expect(update.delta).toEqual({ version: 2, timestamp: 1_700_000_005, state: { color: 'red' }, metadata: { color: { timestamp: 1_700_000_005 } } });
    expect(shadows.get(ACCOUNT, THING).state).toMatchObject({ delta: { color: 'red' } });
    // A reported update that leaves the mismatch publishes the delta again (AWS re:Post on /delta).
    expect(shadows.update(ACCOUNT, THING, body({ state: { reported: { mode: { fan: 'auto' } } } })).delta).toMatchObject({ state: { color: 'red' } });
    const agreed = shadows.update(ACCOUNT, THING, body({ state: { reported: { color: 'red' } } }));
    expect(agreed.delta).toBeUndefined();
    expect(shadows.get(ACCOUNT, THING).state).not.toHaveProperty('delta');
  });

  it('drops the desired section set to null, and reports the previous and current documents', () => {
    const shadows = service();
    shadows.update(ACCOUNT, THING, body({ state: { desired: { color: 'red' }, reported: { color: 'green' } } }));
    const { documents } = shadows.update(ACCOUNT, THING, body({ state: { desired: null } }));
    expect(documents).toMatchObject({
      previous: { state: { desired: { color: 'red' }, reported: { color: 'green' } }, version: 1 },
      current: { state: { reported: { color: 'green' } }, version: 2 },
    });
    expect(shadows.get(ACCOUNT, THING).state).toEqual({ reported: { color: 'green' } });
  });

  it('applies an update only at the version it names: 409 Version conflict otherwise, the shadow unchanged', () => {
    const shadows = service();
    shadows.update(ACCOUNT, THING, body({ state: { reported: { rpm: 1 } } }));
    expect(shadows.update(ACCOUNT, THING, body({ state: { reported: { rpm: 2 } }, version: 1 })).accepted.version).toBe(2);
    expect(refusal(() => shadows.update(ACCOUNT, THING, body({ state: { reported: { rpm: 3 } }, version: 1 })))).toEqual({ code: 409, message: 'Version conflict' });
    expect(shadows.get(ACCOUNT, THING)).toMatchObject({ state: { reported: { rpm: 2 } }, version: 2 });
  });

  const tooDeep = { a: { b: { c: { d: { e: { f: { g: 1 } } } } } } };
  const sixDeep = { a: { b: { c: { d: { e: { f: 1 } } } } } };
  it.each([
    ['not JSON', Buffer.from('{"state":'), 400, 'Invalid JSON'],
    ['not UTF-8', Buffer.from([0x7b, 0xff, 0x7d]), 415, 'Unsupported documented encoding; supported encoding is UTF-8'],
    ['no state', body({ clientToken: 'x' }), 400, 'Missing required node: state'],
    ['a state that is not an object', body({ state: 1 }), 400, 'State node must be an object'],
    ['a desired that is not an object', body({ state: { desired: [1] } }), 400, 'Desired node must be an object'],
    ['a reported that is not an object', body({ state: { reported: 'on' } }), 400, 'Reported node must be an object'],
    ['a state node other than desired and reported', body({ state: { delta: {} } }), 400, 'State contains an invalid node'],
    ['a version that is not an integer', body({ state: { reported: {} }, version: '1' }), 400, 'Invalid version'],
    ['a clientToken over 64 bytes', body({ state: { reported: {} }, clientToken: 'x'.repeat(65) }), 400, 'Invalid clientToken'],
    ['7 levels inside reported', body({ state: { reported: tooDeep } }), 400, 'JSON contains too many levels of nesting; maximum is 6'],
    ['more than 8 KB of state', body({ state: { reported: { blob: 'x'.repeat(8 * 1024) } } }), 413, 'The payload exceeds the maximum size allowed'],
  ])('refuses %s', (_case, payload, code, message) => {
    const shadows = service();
    expect(refusal(() => shadows.update(ACCOUNT, THING, payload))).toEqual({ code, message });
    expect(refusal(() => shadows.get(ACCOUNT, THING))).toMatchObject({ code: 404 });
  });

  it('accepts 6 levels inside reported', () => {
    expect(service().update(ACCOUNT, THING, body({ state: { reported: sixDeep } })).accepted.version).toBe(1);
  });

  it('counts the stored state against 8 KB, not the request alone', () => {
    const shadows = service();
    shadows.update(ACCOUNT, THING, body({ state: { reported: { a: 'x'.repeat(5_000) } } }));
    expect(refusal(() => shadows.update(ACCOUNT, THING, body({ state: { desired: { b: 'y'.repeat(4_000) } } })))).toMatchObject({ code: 413 });
  });

  it('deletes a shadow (404 afterwards) and continues its version when it is created again', () => {
    const shadows = service();
    shadows.update(ACCOUNT, THING, body({ state: { reported: { rpm: 1 } } }));
    shadows.update(ACCOUNT, THING, body({ state: { reported: { rpm: 2 } } }));
    expect(shadows.delete(ACCOUNT, THING, 'tok')).toEqual({ version: 2, timestamp: expect.any(Number), clientToken: 'tok' });
    expect(refusal(() => shadows.get(ACCOUNT, THING))).toEqual({ code: 404, message: "No shadow exists with name: 'pump-1'" });
    expect(refusal(() => shadows.delete(ACCOUNT, THING))).toMatchObject({ code: 404 });
    expect(shadows.update(ACCOUNT, THING, body({ state: { reported: { rpm: 3 } } })).accepted.version).toBe(3);
  });

  it('keeps named shadows apart from the classic one and from other accounts, and lists the named ones in pages', () => {
    const shadows = service();
    for (const shadowName of ['c', 'a', 'b']) shadows.update(ACCOUNT, { ...THING, shadowName }, body({ state: { reported: { name: shadowName } } }));
    shadows.update(ACCOUNT, THING, body({ state: { reported: { classic: true } } }));
    expect(shadows.get(ACCOUNT, { ...THING, shadowName: 'a' }).state).toEqual({ reported: { name: 'a' } });
    expect(refusal(() => shadows.get('222222222222', THING))).toMatchObject({ code: 404 });

    const first = shadows.listNamed(ACCOUNT, THING.thingName, { pageSize: 2 });
    expect(first).toMatchObject({ results: ['a', 'b'], nextToken: 'b' });
    expect(shadows.listNamed(ACCOUNT, THING.thingName, { pageSize: 2, nextToken: first.nextToken! })).toEqual({ results: ['c'], timestamp: expect.any(Number) });
  });

  it.each([
    ['$aws/things/t/shadow/update', { thingName: 't', operation: 'update' }],
    ['$aws/things/t/shadow/name/n/get/accepted', { thingName: 't', shadowName: 'n', operation: 'get', reply: 'accepted' }],
    ['$aws/things/t/shadow/update/documents', { thingName: 't', operation: 'update', reply: 'documents' }],
    ['$aws/things/t/shadow/get/delta', undefined],
    ['$aws/things/t/shadow/update/extra/more', undefined],
    ['device/t/shadow/update', undefined],
  ])('reads the shadow topic %s', (topic, expected) => {
    expect(parseShadowTopic(topic)).toEqual(expected);
  });

  it('answers an MQTT update with accepted, delta and documents, and a bad one with rejected {code, message, timestamp, clientToken}', () => {
    const shadows = service();
    const prefix = '$aws/things/pump-1/shadow/name/config';
    const answers = serveShadowRequest(shadows, ACCOUNT, `${prefix}/update`, body({ state: { desired: { rpm: 5 } }, clientToken: 'k' }))!;
    expect(answers.map((a) => a.topic)).toEqual([`${prefix}/update/accepted`, `${prefix}/update/delta`, `${prefix}/update/documents`]);
    const [rejected] = serveShadowRequest(shadows, ACCOUNT, `${prefix}/update`, body({ state: { desired: { rpm: 6 } }, version: 9, clientToken: 'k' }))!;
    expect(rejected).toEqual({ topic: `${prefix}/update/rejected`, payload: { code: 409, message: 'Version conflict', timestamp: expect.any(Number), clientToken: 'k' } });
    const [got] = serveShadowRequest(shadows, ACCOUNT, `${prefix}/get`, Buffer.alloc(0))!;
    expect((got!.payload as JsonObject).state).toEqual({ desired: { rpm: 5 }, delta: { rpm: 5 } });
    expect(serveShadowRequest(shadows, ACCOUNT, `${prefix}/update/accepted`, Buffer.alloc(0))).toBeUndefined();
  });
});
