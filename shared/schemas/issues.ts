/** One problem with an input, as answers and logs show it: where (a dotted path, '' for the whole) and what. */
export interface Issue {
  path: string;
  message: string;
}

/** zod's issues (a failed `safeParse`) as `{ path, message }`: the one way answers and logs name them. */
export function issuesOf(error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> }): Issue[] {
  return error.issues.map((issue) => ({ path: issue.path.map(String).join('.'), message: issue.message }));
}

/** The issues on one line, e.g. for a CloudFormation Reason: `ThingName: must be a thing name; …`. */
export function issuesText(issues: readonly Issue[]): string {
  return issues.map((issue) => (issue.path ? `${issue.path}: ${issue.message}` : issue.message)).join('; ');
}
