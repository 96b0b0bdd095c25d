import type { QueuedFailure } from '../shared/diagnosis/failure-messages';
import type { DiagnosisPorts } from '../shared/diagnosis/gather-facts';
import type { LocalEndpoints } from './local-endpoints';

/**
 * The local IoT Core's failure queue (`core.failures`: GET /_local/failures of its control plane, found
 * through the endpoints, like everything else the CLI's --local and the sandbox use), read as `devices why`
 * reads the stack's SQS failure queue on AWS (cli/failure-queue.ts): each message shaped as its AWS
 * producer writes it, so that shared/diagnosis/failure-messages.ts reads both alike.
 */
export function localFailureQueue(endpoints: Pick<LocalEndpoints, 'iot'>): DiagnosisPorts['failureQueue'] {
  return {
    async peek() {
      const response = await fetch(`${endpoints.iot}/_local/failures`, { signal: AbortSignal.timeout(5_000) });
      if (!response.ok) throw new Error(`GET /_local/failures answered HTTP ${response.status}`);
      const { messages } = (await response.json()) as { messages: Array<Record<string, unknown>> };
      return messages.map((m): QueuedFailure => {
        // A Lambda on-failure record is the message body on AWS; a dead-lettered message keeps its body.
        if (m.source === 'lambda') return { body: JSON.stringify(m.record) };
        if (m.source === 'sqs') return { body: String(m.body ?? '') };
        return { body: JSON.stringify({ ruleName: m.ruleName, failures: [{ errorMessage: m.error }] }) };
      });
    },
  };
}

