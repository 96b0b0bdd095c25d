import { callerOf, groupsOf, refuseUnlessInGroup } from '../../shared/http/caller';

describe('groupsOf (cognito:groups as Lambda receives it)', () => {
  it.each<[string, unknown, string[]]>([
    ['the HTTP API JWT authorizer’s bracketed string', '[operators technicians]', ['operators', 'technicians']],
    ['one group in brackets', '[technicians]', ['technicians']],
    ['the array itself (direct invocation)', ['operators'], ['operators']],
    ['a plain string', 'operators', ['operators']],
    ['empty brackets', '[]', []],
    ['absent', undefined, []],
    ['a number', 7, []],
    ['an array with non-strings', ['operators', 3, ''], ['operators']],
  ])('%s', (_, claim, expected) => {
    expect(groupsOf(claim)).toEqual(expected);
  });
});

describe('callerOf', () => {
  it('reads the subject, username, email and groups', () => {
    expect(callerOf({ sub: 'u-1', 'cognito:username': 'alice', email: 'a@example.com', 'cognito:groups': '[operators]' })).toEqual({
      sub: 'u-1',
      username: 'alice',
      email: 'a@example.com',
      groups: ['operators'],
    });
  });

  it('is undefined without a subject', () => {
    expect(callerOf({ email: 'a@example.com' })).toBeUndefined();
    expect(callerOf(undefined)).toBeUndefined();
  });
});

describe('refuseUnlessInGroup', () => {
  const caller = (groups: string[]) => ({ sub: 'u', groups });
  it('lets a member through', () => {
    expect(refuseUnlessInGroup(caller(['technicians']), ['technicians', 'operators'])).toBeUndefined();
  });

  it('answers 403 with the reason for anyone else, and for a user in no group', () => {
    for (const groups of [['technicians'], [], ['operators-but-not-really']]) {
      const answer = refuseUnlessInGroup(caller(groups), ['operators']);
      expect(answer?.statusCode).toBe(403);
      expect(JSON.parse(answer!.body)).toEqual({ message: 'This needs a member of operators.', reason: 'group-not-allowed' });
    }
  });
});
