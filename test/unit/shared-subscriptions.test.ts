import { EventEmitter } from 'node:events';
import type { Client } from 'aedes';
import { parseMqttVersion } from '../../cli/device-endpoints';
import { SharedSubscriptions, parseShared, sharedGroupOf } from '../../local/iot-core/shared-subscriptions';

/** A stand-in for aedes's Client: its id, its subscriptions (by filter) and the parser the endpoint hooks. */
function fakeClient(id: string, filters: string[] = []) {
  const parser = new EventEmitter();
  const client = { id, subscriptions: Object.fromEntries(filters.map((filter) => [filter, { qos: 1 }])), _parser: parser };
  return { client: client as unknown as Client, parse: (packet: object) => parser.emit('packet', packet) };
}

describe('parseShared', () => {
  it.each([
    ['$share/workers/jobs/+', { group: 'workers', filter: 'jobs/+' }],
    ['$share/g/#', { group: 'g', filter: '#' }],
    ['$share/g/a/b/c', { group: 'g', filter: 'a/b/c' }],
    ['jobs/+', undefined],
    ['$share/workers', undefined],
    ['$share//jobs', undefined],
    ['$share/wor+kers/jobs', undefined],
    ['$aws/things/x/shadow/get', undefined],
  ])('%s → %j', (topicFilter, expected) => {
    expect(parseShared(topicFilter)).toEqual(expected);
  });
});

describe('SharedSubscriptions', () => {
  it('rewrites $share/<group>/<filter> in a SUBSCRIBE and UNSUBSCRIBE before the broker reads them, and marks the group', () => {
    const shared = new SharedSubscriptions(() => true);
    const { client, parse } = fakeClient('a');
    shared.attach(client);
    const subscribe = { cmd: 'subscribe', subscriptions: [{ topic: '$share/workers/jobs/+' }, { topic: 'plain/topic' }] };
    parse(subscribe);
    expect(subscribe.subscriptions.map((s) => s.topic)).toEqual(['jobs/+', 'plain/topic']);
    expect(subscribe.subscriptions.map((s) => sharedGroupOf(s))).toEqual(['workers', undefined]);
    const unsubscribe = { cmd: 'unsubscribe', unsubscriptions: ['$share/workers/jobs/+', 'plain/topic'] };
    parse(unsubscribe);
    expect(unsubscribe.unsubscriptions).toEqual(['jobs/+', 'plain/topic']);
  });

  it('gives each message to one connected member, round robin; all members see the same choice', () => {
    const online = new Set(['a', 'b', 'c']);
    const shared = new SharedSubscriptions((id) => online.has(id));
    const members = ['a', 'b', 'c'].map((id) => fakeClient(id, ['jobs/+']).client);
    for (const member of members) shared.join(member.id, 'jobs/+', 'workers');
    const receivers = [1, 2, 3, 4, 5, 6].map((counter) => {
      const packet = { topic: `jobs/${counter}`, brokerId: 'b1', brokerCounter: counter };
      const chosen = members.filter((member) => (shared.deliveringGroups(member, packet) ?? []).length > 0);
      expect(chosen).toHaveLength(1);
      return chosen[0]!.id;
    });
    expect(receivers).toEqual(['a', 'b', 'c', 'a', 'b', 'c']);

    online.delete('b');
    const next = [7, 8].map((counter) => members.find((member) => shared.deliveringGroups(member, { topic: 'jobs/x', brokerId: 'b1', brokerCounter: counter })!.length > 0)!.id);
    expect(next.every((id) => id !== 'b')).toBe(true);
  });

  it('delivers through a plain subscription regardless of the group, and forgets a clean session', () => {
    const shared = new SharedSubscriptions(() => true);
    const plain = fakeClient('watcher', ['jobs/+']).client;
    expect(shared.deliveringGroups(plain, { topic: 'jobs/1', brokerCounter: 1 })).toBeUndefined();
    const member = fakeClient('member', ['jobs/+']).client;
    shared.join('member', 'jobs/+', 'workers');
    expect(shared.deliveringGroups(member, { topic: 'jobs/1', brokerCounter: 1 })).toEqual(['workers']);
    shared.forget('member');
    expect(shared.deliveringGroups(member, { topic: 'jobs/2', brokerCounter: 2 })).toBeUndefined();
  });
});

describe('parseMqttVersion (--mqtt)', () => {
  it.each([
    [undefined, '5'],
    ['5', '5'],
    ['3.1.1', '3.1.1'],
  ])('%s → %s', (value, expected) => {
    expect(parseMqttVersion(value)).toBe(expected);
  });

  it.each(['4', '3.1', 'v5', ''])('refuses %j with the two choices', (value) => {
    expect(() => parseMqttVersion(value)).toThrow(/--mqtt expects 5 or 3\.1\.1/);
  });
});
