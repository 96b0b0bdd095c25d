import * as z from 'zod/mini';
import { processSqsBatch } from '../../shared/lambda/sqs-batch';
import type { Log } from '../../shared/log';

/** SQS partial batch failures: a failing message is reported alone, a malformed one dropped with a log line. */

const schema = z.object({ n: z.number() });
const record = (messageId: string, body: string) => ({ messageId, body, receiptHandle: 'r', attributes: {}, eventSource: 'aws:sqs' });

function capture(): { log: Log; lines: Array<{ level: string; message: string; extra: unknown[] }> } {
  const lines: Array<{ level: string; message: string; extra: unknown[] }> = [];
  const at = (level: string) => (message: string, ...extra: unknown[]) => void lines.push({ level, message, extra });
  return { log: { debug: at('debug'), info: at('info'), warn: at('warn'), error: at('error') }, lines };
}

describe('processSqsBatch', () => {
  it.each<[string, Array<ReturnType<typeof record>>, string[], number[], string[]]>([
    ['handles every well-formed message', [record('a', '{"n":1}'), record('b', '{"n":2}')], [], [1, 2], []],
    ['reports only the message whose handling failed', [record('a', '{"n":1}'), record('b', '{"n":-1}'), record('c', '{"n":3}')], ['b'], [1, -1, 3], ['warn']],
    ['drops a message that is not JSON, and goes on', [record('a', 'nope'), record('b', '{"n":2}')], [], [2], ['error']],
    ['drops a message its schema refuses, and goes on', [record('a', '{"n":"1"}'), record('b', '{"n":2}')], [], [2], ['error']],
  ])('%s', async (_, records, failures, handled, levels) => {
    const { log, lines } = capture();
    const seen: number[] = [];

    const result = await processSqsBatch({ Records: records }, schema, async ({ n }) => {
      seen.push(n);
      if (n < 0) throw new Error('retirement failed');
    }, log);

    expect({ failures: result.batchItemFailures.map((f) => f.itemIdentifier), seen, levels: lines.map((l) => l.level) }).toEqual({ failures, seen: handled, levels });
  });

  it('drops an event that is not an SQS batch whole, with one log line, handling nothing', async () => {
    const { log, lines } = capture();
    const handle = jest.fn();

    expect(await processSqsBatch({ Records: 'none' }, schema, handle, log)).toEqual({ batchItemFailures: [] });
    expect(handle).not.toHaveBeenCalled();
    expect(lines.map((l) => l.message)).toEqual(['not an SQS event; dropped']);
  });
});
