import { randomUUID } from 'node:crypto';

/**
 * EventBridge schedules as the local IoT Core runs them: each `schedule` event of serverless.yml (through
 * lib/stack.ts) invokes its function asynchronously every period, divided by the time scale (a daily sweep
 * runs every 24 minutes at the emulator's default scale of 60), with the event EventBridge sends a
 * scheduled rule's target (EventBridge User Guide, "Amazon EventBridge events from AWS services": source
 * aws.events, detail-type "Scheduled Event"). `rate(...)` only: a `cron(...)` expression is refused here
 * with its name, rather than run at a time it does not say.
 */

const UNIT_MS = { minute: 60_000, hour: 3_600_000, day: 86_400_000 } as const;

/** The period of an EventBridge rate expression, in milliseconds (`rate(1 day)`, `rate(5 minutes)`). */
export function ratePeriodMs(expression: string): number {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression.trim());
  if (!match) {
    throw new Error(`schedule "${expression}": the local IoT Core runs rate(<n> minute(s)|hour(s)|day(s)) schedules only; invoke the function yourself for a cron(...) one`);
  }
  const value = Number(match[1]);
  if (value < 1) throw new Error(`schedule "${expression}": the rate must be at least 1`);
  return value * UNIT_MS[match[2] as keyof typeof UNIT_MS];
}

export function scheduledEvent(options: { accountId: string; region: string; ruleArn: string; at: Date }): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: options.accountId,
    time: options.at.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: options.region,
    resources: [options.ruleArn],
    detail: {},
  };
}

export interface ScheduleOptions {
  ruleArn: string;
  expression: string;
  accountId: string;
  region: string;
  /** Sends the event to the function (asynchronous invocation). */
  invoke: (event: Record<string, unknown>) => void;
}

export class LocalSchedules {
  private readonly timers: NodeJS.Timeout[] = [];

  constructor(private readonly options: { timeScale: number; now?: () => Date }) {}

  add(schedule: ScheduleOptions): { periodMs: number } {
    const periodMs = Math.max(1, Math.round(ratePeriodMs(schedule.expression) / this.options.timeScale));
    const fire = () =>
      schedule.invoke(scheduledEvent({ accountId: schedule.accountId, region: schedule.region, ruleArn: schedule.ruleArn, at: this.options.now?.() ?? new Date() }));
    const timer = setInterval(fire, periodMs);
    // A schedule never keeps the process alive on its own.
    timer.unref();
    this.timers.push(timer);
    return { periodMs };
  }

  close(): void {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }
}
