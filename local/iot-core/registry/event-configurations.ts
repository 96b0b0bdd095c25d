import { invalid } from '../errors';

/**
 * One account's registry and Jobs event configuration (UpdateEventConfigurations /
 * DescribeEventConfigurations; developer guide "Enable events for AWS IoT",
 * https://docs.aws.amazon.com/iot/latest/developerguide/iot-events.html#iot-events-enable): which event
 * types the service publishes to `$aws/events/…`. Every type is off until enabled (the Jobs events page: "To be
 * notified of jobs updates, enable these jobs events", https://docs.aws.amazon.com/iot/latest/developerguide/events-jobs.html).
 * Only JOB and JOB_EXECUTION are published by the local IoT Core so far; the others are stored and answered.
 */

/** The model's EventType enum. */
export const EVENT_TYPES = ['THING', 'THING_GROUP', 'THING_TYPE', 'THING_GROUP_MEMBERSHIP', 'THING_GROUP_HIERARCHY', 'THING_TYPE_ASSOCIATION', 'JOB', 'JOB_EXECUTION', 'POLICY', 'CERTIFICATE', 'CA_CERTIFICATE'] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface EventConfigurationsDescription {
  eventConfigurations: Record<EventType, { Enabled: boolean }>;
  creationDate: Date;
  lastModifiedDate: Date;
}

export class EventConfigurationService {
  private readonly enabled = new Set<EventType>();
  private readonly creationDate: Date;
  private lastModifiedDate: Date;

  constructor(now: () => Date) {
    this.creationDate = now();
    this.lastModifiedDate = this.creationDate;
    this.now = now;
  }

  private readonly now: () => Date;

  isEnabled(type: EventType): boolean {
    return this.enabled.has(type);
  }

  /** UpdateEventConfigurations: the types named change, the others keep their state. All checked before any changes. */
  update(eventConfigurations: unknown): void {
    if (eventConfigurations === undefined) return;
    if (typeof eventConfigurations !== 'object' || eventConfigurations === null || Array.isArray(eventConfigurations)) {
      throw invalid('eventConfigurations must be a map of event type to {"Enabled": boolean}.');
    }
    const changes: Array<[EventType, boolean]> = [];
    for (const [type, configuration] of Object.entries(eventConfigurations)) {
      if (!(EVENT_TYPES as readonly string[]).includes(type)) throw invalid(`${type} is not an event type (one of ${EVENT_TYPES.join(', ')}).`);
      const value = (configuration as { Enabled?: unknown } | null)?.Enabled;
      if (value !== undefined && typeof value !== 'boolean') throw invalid(`eventConfigurations.${type}.Enabled must be a boolean.`);
      if (value !== undefined) changes.push([type as EventType, value]);
    }
    for (const [type, value] of changes) {
      if (value) this.enabled.add(type);
      else this.enabled.delete(type);
    }
    this.lastModifiedDate = this.now();
  }

  /** DescribeEventConfigurations: every event type, with its state. */
  describe(): EventConfigurationsDescription {
    const eventConfigurations = Object.fromEntries(EVENT_TYPES.map((type) => [type, { Enabled: this.enabled.has(type) }])) as Record<EventType, { Enabled: boolean }>;
    return { eventConfigurations, creationDate: this.creationDate, lastModifiedDate: this.lastModifiedDate };
  }
}
