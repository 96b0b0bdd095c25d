import type { Retirement } from '../schemas/sqs-event';

export type { Retirement } from '../schemas/sqs-event';

/** Delayed work: retiring a rotated certificate after its grace period (`shared/aws/retirement-queue.ts`). */
export interface RetirementQueue {
  schedule(retirement: Retirement, delaySeconds: number): Promise<void>;
}
