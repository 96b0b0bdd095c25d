import { compileRule, RuleEngine, selectedEvent } from '../../local/iot-core/rules';

/** The local IoT Core's SQL subset: `SELECT *` plus topic(n), principal() and clientid() fields (rules.ts). */

const CSR_SQL = "SELECT *, topic(2) AS thingName, principal() AS principal, clientid() AS clientId FROM 'device/+/rotation/csr'";

describe('local rules SQL', () => {
  it('adds topic(n), principal() and clientid() to the JSON payload object', () => {
    const rule = compileRule({ ruleName: 'csr', sql: CSR_SQL, actions: [] });
    const event = selectedEvent(rule, 'device/thing-1/rotation/csr', { jobId: 'rotate-1', csr: 'x' }, { principal: 'c'.repeat(64), clientId: 'thing-1' });
    expect(event).toEqual({ jobId: 'rotate-1', csr: 'x', thingName: 'thing-1', principal: 'c'.repeat(64), clientId: 'thing-1' });
  });

  it('overrides a payload field of the same name, and leaves it out when the publish has no such source (HTTP)', () => {
    const rule = compileRule({ ruleName: 'csr', sql: CSR_SQL, actions: [] });
    const spoofed = { principal: 'someone-else', clientId: 'other', thingName: 'other' };
    expect(selectedEvent(rule, 'device/thing-1/rotation/csr', spoofed, { principal: 'mine', clientId: 'thing-1' })).toEqual({ principal: 'mine', clientId: 'thing-1', thingName: 'thing-1' });
    expect(selectedEvent(rule, 'device/thing-1/rotation/csr', spoofed)).toEqual({ thingName: 'thing-1' });
  });

  it('does not fire with added fields for a payload that is not a JSON object', () => {
    const invoked: unknown[] = [];
    const engine = new RuleEngine((_arn, event) => (invoked.push(event), true));
    engine.addRule({ ruleName: 'csr', sql: CSR_SQL, actions: [{ lambda: { functionArn: 'arn:aws:lambda:eu-west-1:1:function:f' } }] });
    expect(engine.publish('device/thing-1/rotation/csr', 'a string', { principal: 'p', clientId: 'thing-1' })).toEqual([]);
    expect(engine.publish('device/thing-1/rotation/csr', { csr: 'x' }, { principal: 'p', clientId: 'thing-1' })).toEqual(['csr']);
    expect(invoked).toEqual([{ csr: 'x', thingName: 'thing-1', principal: 'p', clientId: 'thing-1' }]);
  });

  it('acts on no message while the rule is disabled (DisableTopicRule), and again once enabled; an unknown rule is refused', () => {
    const invoked: unknown[] = [];
    const engine = new RuleEngine((_arn, event) => (invoked.push(event), true));
    engine.addRule({ ruleName: 'csr', sql: CSR_SQL, actions: [{ lambda: { functionArn: 'arn:aws:lambda:eu-west-1:1:function:f' } }] });
    expect(engine.setDisabled('csr', true)).toBe(true);
    expect(engine.list()[0]!.ruleDisabled).toBe(true);
    expect(engine.publish('device/thing-1/rotation/csr', { csr: 'lost' }, { principal: 'p', clientId: 'thing-1' })).toEqual([]);
    expect(engine.setDisabled('csr', false)).toBe(true);
    expect(engine.publish('device/thing-1/rotation/csr', { csr: 'x' }, { principal: 'p', clientId: 'thing-1' })).toEqual(['csr']);
    // What came while it was disabled is not kept for later.
    expect(invoked).toEqual([{ csr: 'x', thingName: 'thing-1', principal: 'p', clientId: 'thing-1' }]);
    expect(engine.setDisabled('nope', true)).toBe(false);
  });

  it('keeps plain SELECT * rules as they were (the payload unchanged, any JSON)', () => {
    const rule = compileRule({ ruleName: 'all', sql: "SELECT * FROM 'a/+' WHERE topic(2) = 'b'", actions: [] });
    expect(rule.where).toEqual([{ index: 2, value: 'b' }]);
    expect(selectedEvent(rule, 'a/b', [1, 2], { principal: 'p' })).toEqual([1, 2]);
  });

  it.each([
    "SELECT *, timestamp() AS ts FROM 'a/b'",
    "SELECT *, topic(0) AS t FROM 'a/b'",
    "SELECT *, principal() FROM 'a/b'",
    "SELECT *, topic(1) AS t, clientid() AS t FROM 'a/b'",
    "SELECT csr FROM 'a/b'",
    "SELECT *, principal() AS p FROM 'a/b' WHERE p = 'x'",
  ])('refuses %s at rule creation', (sql) => {
    expect(() => compileRule({ ruleName: 'bad', sql, actions: [] })).toThrow(/unsupported|1-based|twice/);
  });
});
