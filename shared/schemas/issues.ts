/** One problem with an input, as answers and logs show it: where (a dotted path, '' for the whole) and what. */
export interface Issue {
  path: string;
  message: string;
}

interface ZodIssueShape {
  path: ReadonlyArray<PropertyKey>;
  message: string;
  code?: string;
  keys?: readonly string[];
}

/**
 * zod's issues (a failed `safeParse`) as `{ path, message }`: the one way answers and logs name them.
 * zod reports a strict object's unknown keys as one issue at the object; `unknownKeysApart` names each key
 * at its own path instead (`colour: unknown field`), as an answer that lists what to remove should.
 */
export function issuesOf(error: { issues: ReadonlyArray<ZodIssueShape> }, options: { unknownKeysApart?: boolean } = {}): Issue[] {
  return error.issues.flatMap((issue) => {
    const path = issue.path.map(String);
    if (options.unknownKeysApart && issue.code === 'unrecognized_keys' && issue.keys) {
      return issue.keys.map((key) => ({ path: [...path, key].join('.'), message: issue.message }));
    }
    return [{ path: path.join('.'), message: issue.message }];
  });
}

/** The issues on one line, e.g. for a CloudFormation Reason: `ThingName: must be a thing name; …`. */
export function issuesText(issues: readonly Issue[]): string {
  return issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join('; ');
}
