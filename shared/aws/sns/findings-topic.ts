import type { ExpiryFinding, FindingSink } from '../../expiry/ports';
import type { SNSClient } from '@aws-sdk/client-sns';
import { publishMessage } from './publish';

/**
 * The stack's findings topic as a FindingSink: one message per finding, the finding as JSON, and a subject
 * an e-mail subscriber can read (SNS subjects: at most 100 ASCII characters).
 */
export function findingsTopic(client: SNSClient, topicArn: string): FindingSink {
  return {
    async publish(finding: ExpiryFinding): Promise<void> {
      const subject = `certificate ${finding.reasons.join('+')}: ${finding.deviceId}`.replace(/[^\x20-\x7e]/g, '?').slice(0, 100);
      await publishMessage(client, topicArn, JSON.stringify(finding), subject);
    },
  };
}
