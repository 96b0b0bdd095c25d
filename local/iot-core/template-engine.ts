/**
 * Provisioning templates (aws-iot-reference §3.2): parameters with defaults, the intrinsic functions
 * `Ref`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split`, `Fn::FindInMap` (not inside `Mappings`), the
 * resource types Thing / Certificate / Policy with their OverrideSettings, and DeviceConfiguration.
 * Evaluation is pure: it returns what to do; `fleet-provisioning.ts` applies it.
 */

export class TemplateError extends Error {
  override name = 'TemplateError';
  constructor(
    message: string,
    readonly code: 'InvalidTemplate' | 'InvalidParameters' = 'InvalidParameters',
  ) {
    super(message);
  }
}

export type Override = 'DO_NOTHING' | 'REPLACE' | 'FAIL' | 'MERGE';

export interface ThingResource {
  type: 'thing';
  logicalName: string;
  thingName: string;
  attributes?: Record<string, string>;
  thingTypeName?: string;
  thingGroups?: string[];
  billingGroup?: string;
  overrides: { AttributePayload?: Override; ThingTypeName?: Override; ThingGroups?: Override };
}

export interface CertificateResource {
  type: 'certificate';
  logicalName: string;
  certificateId: string;
  status: 'ACTIVE' | 'INACTIVE';
  overrides: { Status?: Override };
}

export interface PolicyResource {
  type: 'policy';
  logicalName: string;
  policyName?: string;
  policyDocument?: string;
}

export type TemplateResource = ThingResource | CertificateResource | PolicyResource;

export interface EvaluatedTemplate {
  resources: TemplateResource[];
  deviceConfiguration: Record<string, string>;
}

type Json = unknown;

const OVERRIDES: readonly Override[] = ['DO_NOTHING', 'REPLACE', 'FAIL', 'MERGE'];

function asString(value: Json, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TemplateError(`${where} must be a string`);
}

export function evaluateTemplate(templateBody: string, parameters: Readonly<Record<string, string>>): EvaluatedTemplate {
  let template: { Parameters?: Record<string, { Type?: string; Default?: Json }>; Mappings?: Json; Resources?: Json; DeviceConfiguration?: Json };
  try {
    template = JSON.parse(templateBody) as typeof template;
  } catch {
    throw new TemplateError('the template body is not JSON', 'InvalidTemplate');
  }
  const values: Record<string, string> = {};
  for (const [name, declaration] of Object.entries(template.Parameters ?? {})) {
    const given = parameters[name];
    if (given !== undefined) values[name] = given;
    else if (declaration?.Default !== undefined) values[name] = asString(declaration.Default, `Parameters.${name}.Default`);
  }
  // Builtins (e.g. AWS::IoT::Certificate::Id) are passed by the caller even when not declared.
  for (const [name, value] of Object.entries(parameters)) if (name.startsWith('AWS::') && !(name in values)) values[name] = value;
  const mappings = (template.Mappings ?? {}) as Record<string, Record<string, Record<string, Json>>>;

  const evaluate = (node: Json, where: string): Json => {
    if (Array.isArray(node)) return node.map((item, i) => evaluate(item, `${where}[${i}]`));
    if (!node || typeof node !== 'object') return node;
    const entries = Object.entries(node as Record<string, Json>);
    if (entries.length === 1) {
      const [key, arg] = entries[0]!;
      switch (key) {
        case 'Ref': {
          const name = asString(arg, `${where}.Ref`);
          if (!(name in values)) throw new TemplateError(`parameter ${name} has no value (${where})`);
          return values[name];
        }
        case 'Fn::Join': {
          const [separator, parts] = evaluate(arg, where) as [Json, Json];
          if (!Array.isArray(parts)) throw new TemplateError(`Fn::Join needs [separator, [values]] (${where})`);
          return parts.map((part, i) => asString(part, `${where}.Fn::Join[${i}]`)).join(asString(separator, `${where}.Fn::Join`));
        }
        case 'Fn::Split': {
          const [separator, text] = evaluate(arg, where) as [Json, Json];
          return asString(text, `${where}.Fn::Split`).split(asString(separator, `${where}.Fn::Split`));
        }
        case 'Fn::Select': {
          const [index, items] = evaluate(arg, where) as [Json, Json];
          const i = Number(index);
          // An index out of range or a null element fails provisioning (aws-iot-reference §3.2).
          if (!Array.isArray(items) || !Number.isInteger(i) || i < 0 || i >= items.length || items[i] == null) {
            throw new TemplateError(`Fn::Select index ${String(index)} is out of range (${where})`);
          }
          return items[i];
        }
        case 'Fn::Sub': {
          const [text, locals] = Array.isArray(arg) ? (arg as [Json, Record<string, Json>]) : [arg, {}];
          const localValues = Object.fromEntries(
            Object.entries(locals ?? {}).map(([name, value]) => [name, asString(evaluate(value, where), `${where}.Fn::Sub`)]),
          );
          return asString(text, `${where}.Fn::Sub`).replace(/\$\{([^}]+)\}/g, (_, name: string) => {
            const value = localValues[name] ?? values[name];
            if (value === undefined) throw new TemplateError(`Fn::Sub: ${name} has no value (${where})`);
            return value;
          });
        }
        case 'Fn::FindInMap': {
          const [map, top, second] = (evaluate(arg, where) as Json[]).map((x) => asString(x, `${where}.Fn::FindInMap`));
          const found = mappings[map!]?.[top!]?.[second!];
          if (found === undefined) throw new TemplateError(`Fn::FindInMap: ${map}/${top}/${second} is not in Mappings (${where})`);
          return found;
        }
      }
    }
    return Object.fromEntries(entries.map(([key, value]) => [key, evaluate(value, `${where}.${key}`)]));
  };

  const resources: TemplateResource[] = [];
  const declared = template.Resources;
  if (!declared || typeof declared !== 'object') throw new TemplateError('the template has no Resources', 'InvalidTemplate');
  for (const [logicalName, raw] of Object.entries(declared as Record<string, { Type?: string; Properties?: Json; OverrideSettings?: Json }>)) {
    const properties = (evaluate(raw.Properties ?? {}, `Resources.${logicalName}.Properties`) ?? {}) as Record<string, Json>;
    const overrides = Object.fromEntries(
      Object.entries((raw.OverrideSettings ?? {}) as Record<string, Json>).map(([key, value]) => {
        const setting = String(value).toUpperCase() as Override;
        if (!OVERRIDES.includes(setting)) throw new TemplateError(`OverrideSettings.${key} must be one of ${OVERRIDES.join(', ')}`, 'InvalidTemplate');
        return [key, setting];
      }),
    );
    switch (raw.Type) {
      case 'AWS::IoT::Thing': {
        const attributes = properties.AttributePayload as Record<string, Json> | undefined;
        const groups = properties.ThingGroups;
        if (groups !== undefined && !Array.isArray(groups)) throw new TemplateError(`${logicalName}.ThingGroups must be a list`);
        resources.push({
          type: 'thing',
          logicalName,
          thingName: asString(properties.ThingName, `${logicalName}.ThingName`),
          ...(attributes ? { attributes: Object.fromEntries(Object.entries(attributes).map(([k, v]) => [k, asString(v, `${logicalName}.AttributePayload.${k}`)])) } : {}),
          ...(properties.ThingTypeName !== undefined ? { thingTypeName: asString(properties.ThingTypeName, `${logicalName}.ThingTypeName`) } : {}),
          ...(groups ? { thingGroups: (groups as Json[]).map((g, i) => asString(g, `${logicalName}.ThingGroups[${i}]`)) } : {}),
          ...(properties.BillingGroup !== undefined ? { billingGroup: asString(properties.BillingGroup, `${logicalName}.BillingGroup`) } : {}),
          overrides,
        });
        break;
      }
      case 'AWS::IoT::Certificate': {
        // Fleet provisioning templates may only reference the certificate by id (aws-iot-reference §3.2).
        if (properties.CertificateId === undefined) {
          throw new TemplateError(`${logicalName}: fleet provisioning templates must use CertificateId`, 'InvalidTemplate');
        }
        const status = asString(properties.Status ?? 'ACTIVE', `${logicalName}.Status`).toUpperCase();
        if (status !== 'ACTIVE' && status !== 'INACTIVE') throw new TemplateError(`${logicalName}.Status must be ACTIVE or INACTIVE`);
        resources.push({ type: 'certificate', logicalName, certificateId: asString(properties.CertificateId, `${logicalName}.CertificateId`), status, overrides });
        break;
      }
      case 'AWS::IoT::Policy': {
        const document = properties.PolicyDocument;
        const hasName = properties.PolicyName !== undefined;
        if (hasName === (document !== undefined)) {
          throw new TemplateError(`${logicalName}: a policy resource needs exactly one of PolicyName or PolicyDocument`, 'InvalidTemplate');
        }
        resources.push({
          type: 'policy',
          logicalName,
          ...(hasName ? { policyName: asString(properties.PolicyName, `${logicalName}.PolicyName`) } : {}),
          ...(document !== undefined ? { policyDocument: typeof document === 'string' ? document : JSON.stringify(document) } : {}),
        });
        break;
      }
      default:
        throw new TemplateError(`${logicalName}: unsupported resource type ${String(raw.Type)}`, 'InvalidTemplate');
    }
  }

  const deviceConfiguration: Record<string, string> = {};
  for (const [key, value] of Object.entries((evaluate(template.DeviceConfiguration ?? {}, 'DeviceConfiguration') ?? {}) as Record<string, Json>)) {
    // DeviceConfiguration is flat key/value data (aws-iot-reference §3.2).
    deviceConfiguration[key] = asString(value, `DeviceConfiguration.${key}`);
  }
  return { resources, deviceConfiguration };
}
