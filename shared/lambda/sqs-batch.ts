import * as z from 'zod/mini';
import { sqsEventSchema } from '../schemas/sqs-event';
import type { Log } from '../log';

/**
 * An SQS batch with partial failures (ReportBatchItemFailures): each record's body is parsed as JSON and
 * checked with `schema`, then `handle`d. A record that fails is reported alone (`batchItemFailures`), so SQS
 * retries only it; a malformed one is dropped with a log line — retrying it cannot help. An event that is
 * not an SQS batch at all is dropped whole.
 */

export interface SqsBatchResponse {
  batchItemFailures: Array<{ itemIdentifier: string }>;
}

export async function processSqsBatch<Schema extends z.ZodMiniType>(
  event: unknown,
  schema: Schema,
  handle: (message: z.infer<Schema>) => Promise<void>,
  log: Log,
): Promise<SqsBatchResponse> {
  const parsed = sqsEventSchema.safeParse(event);
  if (!parsed.success) {
    log.error('not an SQS event; dropped');
    return { batchItemFailures: [] };
  }
  const batchItemFailures: SqsBatchResponse['batchItemFailures'] = [];
  for (const record of parsed.data.Records) {
    let message: z.infer<Schema>;
    try {
      message = schema.parse(JSON.parse(record.body)) as z.infer<Schema>;
    } catch {
      log.error('malformed message; dropped', { messageId: record.messageId });
      continue;
    }
    try {
      await handle(message);
    } catch (error) {
      log.warn('message failed; SQS will retry', { messageId: record.messageId, error: (error as Error).name });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    }
  }
  return { batchItemFailures };
}
