import { JobsService } from '../../local/iot-core/registry/jobs';

/**
 * JobsService.setTimeScale (local/iot-core/registry/jobs.ts): in a run k times faster than AWS (the bench), a
 * job's minutes — rollout batches, in-progress timeouts — last 60 s ÷ k, so the production configuration paces
 * in AWS time.
 */

const ACCOUNT = '123456789012';
const arn = (resource: string) => `arn:aws:iot:us-east-1:${ACCOUNT}:${resource}`;
const DOCUMENT = JSON.stringify({ operation: 'rotate-certificate' });
const things = ['t1', 't2', 't3', 't4', 't5'];
let clock: number;

function jobsAt(timeScale?: number): JobsService {
  clock = Date.parse('2026-12-01T12:00:00Z');
  const jobs = new JobsService(
    { accountId: ACCOUNT, region: 'us-east-1', arn, now: () => new Date(clock) },
    { thingArnOf: (name) => (things.includes(name) ? arn(`thing/${name}`) : undefined), thingsOfGroup: () => [] },
  );
  if (timeScale !== undefined) jobs.setTimeScale(timeScale);
  return jobs;
}

const notified = (jobs: JobsService) => jobs.listExecutionsForJob('j1', { size: 250 }).items.length;

describe('a time-scaled Jobs service', () => {
  it('releases a rollout batch every 60 s ÷ timeScale', () => {
    const jobs = jobsAt(4);
    jobs.createJob('j1', { targets: things.map((t) => arn(`thing/${t}`)), document: DOCUMENT, jobExecutionsRolloutConfig: { maximumPerMinute: 2 } });
    expect(notified(jobs)).toBe(2);

    clock += 15_000 - 1;
    expect(notified(jobs)).toBe(2);
    clock += 1;
    expect(notified(jobs)).toBe(4);
    clock += 15_000;
    expect(notified(jobs)).toBe(5);
  });

  it('times an execution out after inProgressTimeoutInMinutes scaled minutes', () => {
    const jobs = jobsAt(2);
    jobs.createJob('j1', { targets: [arn('thing/t1')], document: DOCUMENT, timeoutConfig: { inProgressTimeoutInMinutes: 1 } });
    jobs.startNext('t1', {});

    clock += 30_000 - 1;
    expect(jobs.describeExecution('j1', 't1').status).toBe('IN_PROGRESS');
    clock += 1;
    expect(jobs.describeExecution('j1', 't1').status).toBe('TIMED_OUT');
  });

  it('keeps AWS minutes by default, and refuses a time scale that is not positive', () => {
    const jobs = jobsAt();
    jobs.createJob('j1', { targets: things.map((t) => arn(`thing/${t}`)), document: DOCUMENT, jobExecutionsRolloutConfig: { maximumPerMinute: 2 } });
    clock += 30_000;
    expect(notified(jobs)).toBe(2);
    expect(() => jobs.setTimeScale(0)).toThrow(/positive/);
  });
});

describe('an exponential rollout with maximumPerMinute', () => {
  it('raises the rate by incrementFactor up to maximumPerMinute, not past it', () => {
    const jobs = jobsAt();
    const many = Array.from({ length: 40 }, (_, i) => `m${i}`);
    things.push(...many);
    try {
      jobs.createJob('j1', {
        targets: many.map((t) => arn(`thing/${t}`)),
        document: DOCUMENT,
        jobExecutionsRolloutConfig: { maximumPerMinute: 6, exponentialRate: { baseRatePerMinute: 2, incrementFactor: 2, rateIncreaseCriteria: { numberOfNotifiedThings: 2 } } },
      });
      const perMinute = [notified(jobs)];
      for (let minute = 0; minute < 4; minute++) {
        clock += 60_000;
        perMinute.push(notified(jobs) - perMinute.reduce((a, b) => a + b, 0));
      }
      expect(perMinute).toEqual([2, 4, 6, 6, 6]);
    } finally {
      things.splice(things.length - many.length, many.length);
    }
  });
});
