import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { signedFetch } from '../lib/sigv4';
import { bindCalls } from '../shared/aws/bind-calls';
import { createDocumentClient } from '../shared/aws/clients';
import { appendTimelineEvent, listTimelineEvents } from '../shared/aws/timeline/events';
import type { Actor, Timeline, TimelineReader } from '../shared/lifecycle/ports';
import { CliError, type Target } from './target';

/** The device timeline as the CLI writes and reads it, and who the CLI's caller is. */

/**
 * Who runs the CLI: the caller identity's ARN (STS GetCallerIdentity, signed with the operator's credentials;
 * the project has no STS client, and one signed request is all it needs). The local IoT Core has no STS: there
 * the caller is the local account.
 */
export async function callerActor(target: Target): Promise<Actor> {
  if (target.local) return { kind: 'cli', id: `local:${target.local.accountId}` };
  const region = process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const url = new URL(`https://sts.${region}.amazonaws.com/`);
  try {
    const response = await signedFetch(url, {
      method: 'POST',
      service: 'sts',
      region,
      credentials: defaultProvider(),
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
      headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
      timeoutMs: 10_000,
    });
    const arn = (JSON.parse(response.text) as { GetCallerIdentityResponse?: { GetCallerIdentityResult?: { Arn?: string } } })
      .GetCallerIdentityResponse?.GetCallerIdentityResult?.Arn;
    if (response.status !== 200 || !arn) throw new Error(`STS answered HTTP ${response.status}`);
    return { kind: 'cli', id: arn };
  } catch (error) {
    // Every action is recorded with who ran it: without an identity, nothing runs.
    throw new CliError(`cannot tell who you are (sts:GetCallerIdentity: ${(error as Error).message}); pass --profile or set AWS credentials`);
  }
}

export function timelineOf(target: Target): Timeline & TimelineReader {
  const table = { client: createDocumentClient(), tableName: target.timelineTable };
  return bindCalls(table, { append: appendTimelineEvent, list: listTimelineEvents });
}

