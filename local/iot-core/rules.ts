/**
 * The rules engine of the local IoT Core: the subset of IoT SQL the stack uses
 * (`SELECT *[, topic(n) AS a][, principal() AS b][, clientid() AS c] FROM '<topic filter>'
 * [WHERE topic(n) = '<value>' [OR …]]`) and Lambda actions. Anything else is refused when the rule is created,
 * so a rule never silently does nothing.
 *
 * The added fields are the SQL functions of https://docs.aws.amazon.com/iot/latest/developerguide/iot-sql-functions.html:
 * `topic(n)` the n-th level (1-based), `principal()` the publisher's principal — for a device connected with
 * an X.509 certificate, its certificate id (the form AWS's own example `SELECT *, principal() as principal …`
 * is shown with on https://docs.aws.amazon.com/iot/latest/developerguide/binary-payloads.html) — and
 * `clientid()` the MQTT client id. A publish that is not from a device connection (iot-data Publish over
 * HTTP) has no certificate and no client id here: the fields are left out (what AWS returns there was not
 * found in the documentation; a consumer that needs them must refuse their absence).
 */

export interface RuleAction {
  lambda?: { functionArn: string };
}

export interface TopicRule {
  ruleName: string;
  sql: string;
  actions: RuleAction[];
  /** As deployed (AWS::IoT::TopicRule TopicRulePayload), for GetTopicRule. */
  description?: string;
  ruleDisabled?: boolean;
  awsIotSqlVersion?: string;
  errorAction?: Record<string, unknown>;
}

/** A deployed rule as GetTopicRule and ListTopicRules describe it (the model's TopicRule / TopicRuleListItem). */
export interface TopicRuleRecord extends TopicRule {
  readonly topicPattern: string;
  readonly createdAt: Date;
  readonly ruleDisabled: boolean;
}

/** Who published a message, as the SQL functions `principal()` and `clientid()` see it. */
export interface PublishSource {
  /** The certificate id of the device's connection. */
  principal?: string;
  clientId?: string;
}

type SelectedField = { name: string } & ({ fn: 'topic'; index: number } | { fn: 'principal' } | { fn: 'clientid' });

interface CompiledRule extends TopicRule {
  createdAt?: Date;
  filter: string;
  where: Array<{ index: number; value: string }>;
  /** The fields `SELECT *, … AS name` adds to the payload object. */
  fields: SelectedField[];
}

/** MQTT topic filter matching with `+` and `#`. */
export function topicMatches(filter: string, topic: string): boolean {
  // "The Server MUST NOT match Topic Filters starting with a wildcard character (# or +) with Topic Names
  // beginning with a $ character" (MQTT 3.1.1 §4.7.2, MQTT 5 §4.7.2): `#` does not receive $aws/events/...
  if (topic.startsWith('$') && /^[#+]/.test(filter)) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length) return false;
    if (f[i] !== '+' && f[i] !== t[i]) return false;
  }
  return f.length === t.length;
}

function compileField(rule: TopicRule, text: string): SelectedField {
  const match = /^(topic\((\d+)\)|principal\(\)|clientid\(\))\s+AS\s+([A-Za-z_][A-Za-z0-9_]*)$/i.exec(text.trim());
  if (!match) throw new Error(`rule ${rule.ruleName}: unsupported SELECT field for the local IoT Core: ${text.trim()}`);
  const name = match[3]!;
  const fn = match[1]!.toLowerCase();
  if (fn.startsWith('topic')) {
    const index = Number(match[2]);
    if (index < 1) throw new Error(`rule ${rule.ruleName}: topic(n) is 1-based: ${text.trim()}`);
    return { name, fn: 'topic', index };
  }
  return fn.startsWith('principal') ? { name, fn: 'principal' } : { name, fn: 'clientid' };
}

export function compileRule(rule: TopicRule): CompiledRule {
  const match = /^\s*SELECT\s+\*((?:\s*,\s*[^,']+?)*)\s+FROM\s+'([^']+)'(?:\s+WHERE\s+(.+?))?\s*$/i.exec(rule.sql);
  if (!match) throw new Error(`rule ${rule.ruleName}: unsupported SQL for the local IoT Core: ${rule.sql}`);
  const fields = (match[1] ?? '')
    .split(',')
    .filter((part) => part.trim())
    .map((part) => compileField(rule, part));
  const names = new Set<string>();
  for (const field of fields) {
    if (names.has(field.name)) throw new Error(`rule ${rule.ruleName}: field ${field.name} is selected twice`);
    names.add(field.name);
  }
  const where = (match[3] ?? '')
    .split(/\s+OR\s+/i)
    .filter(Boolean)
    .map((clause) => {
      const condition = /^topic\((\d+)\)\s*=\s*'([^']*)'$/i.exec(clause.trim());
      if (!condition) throw new Error(`rule ${rule.ruleName}: unsupported WHERE clause for the local IoT Core: ${clause}`);
      return { index: Number(condition[1]), value: condition[2]! };
    });
  return { ...rule, filter: match[2]!, where, fields };
}

/**
 * The rule's event: the payload, plus the selected fields when the rule adds any. Fields are added to a
 * JSON object only ("If you have an empty or a JSON payload, the resulting payload can have data added using
 * the rule", binary-payloads.html); a payload that is not an object cannot have them (`undefined`: the rule
 * does not fire). An absent source value (no certificate, no client id) leaves its field out.
 */
export function selectedEvent(rule: Pick<CompiledRule, 'fields'>, topic: string, payload: unknown, source: PublishSource = {}): unknown {
  if (!rule.fields.length) return structuredClone(payload);
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return undefined;
  const event: Record<string, unknown> = structuredClone(payload as Record<string, unknown>);
  const levels = topic.split('/');
  for (const field of rule.fields) {
    const value = field.fn === 'topic' ? levels[field.index - 1] : field.fn === 'principal' ? source.principal : source.clientId;
    if (value !== undefined) event[field.name] = value;
    // Not left to the payload: a publisher must not name its own principal or client id.
    else delete event[field.name];
  }
  return event;
}

export type LambdaInvoker = (functionArn: string, event: unknown) => boolean;

export class RuleEngine {
  private readonly rules = new Map<string, CompiledRule>();

  constructor(
    private readonly invoke: LambdaInvoker,
    /** A rule action failed: the rule, the error, and what the error action's message carries (topic, payload, action target). */
    private readonly onError: (rule: string, message: string, failed: { topic: string; payload: unknown; functionArn: string }) => void = () => {},
  ) {}

  addRule(rule: TopicRule, createdAt: Date = new Date()): void {
    this.rules.set(rule.ruleName, { ...compileRule(rule), createdAt });
  }

  /** EnableTopicRule / DisableTopicRule: false when there is no such rule. A disabled rule sees no message. */
  setDisabled(ruleName: string, disabled: boolean): boolean {
    const rule = this.rules.get(ruleName);
    if (!rule) return false;
    rule.ruleDisabled = disabled;
    return true;
  }

  /** The rules as deployed, read-only (GetTopicRule, ListTopicRules). */
  list(): TopicRuleRecord[] {
    return [...this.rules.values()].map(({ filter, where: _where, fields: _fields, createdAt, ...rule }) => ({
      ...structuredClone(rule),
      topicPattern: filter,
      createdAt: createdAt ?? new Date(0),
      ruleDisabled: rule.ruleDisabled === true,
    }));
  }

  /** Delivers a message to every matching rule; returns the names of the rules that fired. */
  publish(topic: string, payload: unknown, source: PublishSource = {}): string[] {
    const fired: string[] = [];
    const levels = topic.split('/');
    for (const rule of this.rules.values()) {
      if (rule.ruleDisabled || !topicMatches(rule.filter, topic)) continue;
      // topic(n) is 1-based (IoT SQL).
      if (rule.where.length && !rule.where.some(({ index, value }) => levels[index - 1] === value)) continue;
      const event = selectedEvent(rule, topic, payload, source);
      if (event === undefined) continue;
      fired.push(rule.ruleName);
      for (const action of rule.actions) {
        if (action.lambda && !this.invoke(action.lambda.functionArn, structuredClone(event))) {
          this.onError(rule.ruleName, `Lambda ${action.lambda.functionArn} cannot be invoked`, { topic, payload, functionArn: action.lambda.functionArn });
        }
      }
    }
    return fired;
  }
}
