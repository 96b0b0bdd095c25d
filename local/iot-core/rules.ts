/**
 * The rules engine of the local IoT Core: the subset of IoT SQL the stack uses
 * (`SELECT * FROM '<topic filter>' [WHERE topic(n) = '<value>' [OR …]]`) and Lambda actions.
 * Anything else is refused when the rule is created, so a rule never silently does nothing.
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

interface CompiledRule extends TopicRule {
  createdAt?: Date;
  filter: string;
  where: Array<{ index: number; value: string }>;
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

export function compileRule(rule: TopicRule): CompiledRule {
  const match = /^\s*SELECT\s+\*\s+FROM\s+'([^']+)'(?:\s+WHERE\s+(.+?))?\s*$/i.exec(rule.sql);
  if (!match) throw new Error(`rule ${rule.ruleName}: unsupported SQL for the local IoT Core: ${rule.sql}`);
  const where = (match[2] ?? '')
    .split(/\s+OR\s+/i)
    .filter(Boolean)
    .map((clause) => {
      const condition = /^topic\((\d+)\)\s*=\s*'([^']*)'$/i.exec(clause.trim());
      if (!condition) throw new Error(`rule ${rule.ruleName}: unsupported WHERE clause for the local IoT Core: ${clause}`);
      return { index: Number(condition[1]), value: condition[2]! };
    });
  return { ...rule, filter: match[1]!, where };
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

  /** The rules as deployed, read-only (GetTopicRule, ListTopicRules). */
  list(): TopicRuleRecord[] {
    return [...this.rules.values()].map(({ filter, where: _where, createdAt, ...rule }) => ({
      ...structuredClone(rule),
      topicPattern: filter,
      createdAt: createdAt ?? new Date(0),
      ruleDisabled: rule.ruleDisabled === true,
    }));
  }

  /** Delivers a message to every matching rule; returns the names of the rules that fired. */
  publish(topic: string, payload: unknown): string[] {
    const fired: string[] = [];
    const levels = topic.split('/');
    for (const rule of this.rules.values()) {
      if (rule.ruleDisabled || !topicMatches(rule.filter, topic)) continue;
      // topic(n) is 1-based (IoT SQL).
      if (rule.where.length && !rule.where.some(({ index, value }) => levels[index - 1] === value)) continue;
      fired.push(rule.ruleName);
      for (const action of rule.actions) {
        if (action.lambda && !this.invoke(action.lambda.functionArn, structuredClone(payload))) {
          this.onError(rule.ruleName, `Lambda ${action.lambda.functionArn} cannot be invoked`, { topic, payload, functionArn: action.lambda.functionArn });
        }
      }
    }
    return fired;
  }
}
