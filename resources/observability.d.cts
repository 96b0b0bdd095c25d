import type { StackResources } from './stack.d.cts';
/** The hook's times: AWS IoT's wait (serverless.yml `timeout`) and the decision's deadline (HOOK_DEADLINE_MS). */
export const HOOK: { timeoutMs: number; decisionDeadlineMs: number };
export const HOOK_P99_THRESHOLD_MS: number;
export const CLAIM_ABUSE_REFUSALS: number;
export function alarmEmailOf(value: string | undefined): string;
export function observabilityResources(stack: unknown): StackResources;
