import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { closeServer, listenOn } from '../net';
import { accountOfRequest } from '../iam/access-keys';
import { ERROR_STATUS, IotError, invalid } from './errors';
import type { AwsIssuer } from './aws-issuer';
import { validityOf } from './pem';
import type { IotAccount } from './registry/account';
import type { CaCertificate, DeviceCertificate } from './registry/certificates';
import type { Job, JobExecution, JobProcessDetails, JobTemplate } from './registry/jobs';
import type { IotRegistry } from './registry/iot-registry';
import type { Policy, PolicyVersion } from './registry/policies';
import type { TopicRuleRecord } from './rules';
import type { ProvisioningTemplate } from './registry/provisioning';
import type { RoleAlias } from './registry/role-aliases';
import type { Page, Paging } from './registry/support';
import { TagService } from './registry/tags';
import type { Thing, ThingGroup, ThingType } from './registry/things';
import type { TrafficControl } from './traffic';

/**
 * The AWS IoT control plane over HTTP, speaking the REST-JSON protocol of the `iot` service model
 * (aws-iot-reference §0, §4), so the real AWS SDK and AWS CLI work against it with only an endpoint URL.
 * Signatures are not checked. The account is taken from the access key id (local/iam/access-keys.ts), which
 * lets one local IoT Core play several accounts; a temporary key's calls are checked against its role
 * (`authorize`, local/iam/).
 *
 * This is the protocol layer: each route reads its input from the path, query, headers and body, calls one
 * method of the account's services (registry/), and shapes the domain record it gets back into the
 * operation's output (the envelope, `nextMarker`/`nextToken`, dates as epoch seconds). The services know
 * nothing of the wire.
 */

interface Request {
  account: IotAccount;
  path: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: Record<string, unknown>;
}

type Handler = (request: Request) => unknown | Promise<unknown>;

interface Route {
  method: string;
  template: string;
  pattern: RegExp;
  names: string[];
  operation: string;
  handler: Handler;
}

const bool = (value: string | null) => value === 'true';
/** A boolean query parameter that is absent unless given (the model's RecursiveWithoutDefault, IsDisabled). */
const optionalBool = (value: string | null) => (value === null ? undefined : value === 'true');
const int = (value: string | null) => {
  if (value === null) return undefined;
  if (!/^-?\d+$/.test(value)) throw invalid(`${value} is not an integer.`);
  return Number.parseInt(value, 10);
};
const str = (value: unknown) => (typeof value === 'string' ? value : undefined);
const strings = (value: unknown) => (Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : undefined);
const tagsOf = (body: Record<string, unknown>) => TagService.validate(body.tags);

/** The page a list asks for: `pageSize`/`marker` lists, or `maxResults`/`nextToken` lists (as the model names them). */
const markerPaging = (query: URLSearchParams): Paging => ({ size: int(query.get('pageSize')), marker: query.get('marker') ?? undefined });
const tokenPaging = (query: URLSearchParams): Paging => ({ size: int(query.get('maxResults')), marker: query.get('nextToken') ?? undefined });
const nextMarker = (next: string | undefined) => (next ? { nextMarker: next } : {});
const nextToken = (next: string | undefined) => (next ? { nextToken: next } : {});

function route(method: string, template: string, operation: string, handler: Handler): Route {
  const names: string[] = [];
  const pattern = new RegExp(
    `^${template.replace(/\{(\w+)\}/g, (_, name: string) => {
      names.push(name);
      return '([^/]+)';
    })}$`,
  );
  return { method, template, pattern, names, operation, handler };
}

export type LocalRoute = (method: string, path: string, body: Record<string, unknown>) => Promise<unknown> | unknown;
/** /_local/cloudformation-responses/…: the raw body (the ResponseURL receiver); undefined: not found. */
export type RawLocalRoute = (method: string, path: string, raw: Buffer, contentType: string | undefined) => unknown;

// ---- REST-JSON answers: domain records shaped as the `iot` service model's outputs (aws-iot-reference §4) ----

const created = (c: { certificateArn: string; certificateId: string }) => ({ certificateArn: c.certificateArn, certificateId: c.certificateId });

function caCertificateDescription(ca: CaCertificate) {
  return {
    certificateDescription: {
      certificateArn: ca.certificateArn,
      certificateId: ca.certificateId,
      status: ca.status,
      certificatePem: ca.x509.toString(),
      ownedBy: ca.ownedBy,
      creationDate: ca.creationDate,
      autoRegistrationStatus: ca.autoRegistrationStatus,
      lastModifiedDate: ca.lastModifiedDate,
      customerVersion: ca.customerVersion,
      generationId: ca.generationId,
      validity: validityOf(ca.x509),
      certificateMode: ca.certificateMode,
    },
    ...(ca.registrationConfig ? { registrationConfig: ca.registrationConfig } : {}),
  };
}

function caCertificates({ items, next }: Page<CaCertificate>) {
  return {
    certificates: items.map((ca) => ({ certificateArn: ca.certificateArn, certificateId: ca.certificateId, status: ca.status, creationDate: ca.creationDate })),
    ...(next ? { nextMarker: next } : {}),
  };
}

function certificateDescription(c: DeviceCertificate) {
  return {
    certificateDescription: {
      certificateArn: c.certificateArn,
      certificateId: c.certificateId,
      ...(c.caCertificateId ? { caCertificateId: c.caCertificateId } : {}),
      status: c.status,
      certificatePem: c.x509.toString(),
      ownedBy: c.ownedBy,
      creationDate: c.creationDate,
      lastModifiedDate: c.lastModifiedDate,
      customerVersion: c.customerVersion,
      transferData: {},
      generationId: c.generationId,
      validity: validityOf(c.x509),
      certificateMode: c.certificateMode,
    },
  };
}

function certificates({ items, next }: Page<DeviceCertificate>) {
  return {
    certificates: items.map((c) => ({
      certificateArn: c.certificateArn,
      certificateId: c.certificateId,
      status: c.status,
      certificateMode: c.certificateMode,
      creationDate: c.creationDate,
    })),
    ...(next ? { nextMarker: next } : {}),
  };
}

const thingCreated = (t: Thing) => ({ thingName: t.thingName, thingArn: t.thingArn, thingId: t.thingId });

function thingDescription(t: Thing) {
  return {
    defaultClientId: t.thingName,
    thingName: t.thingName,
    thingId: t.thingId,
    thingArn: t.thingArn,
    ...(t.thingTypeName ? { thingTypeName: t.thingTypeName } : {}),
    attributes: t.attributes,
    version: t.version,
    ...(t.billingGroupName ? { billingGroupName: t.billingGroupName } : {}),
  };
}

function things({ items, next }: Page<Thing>) {
  return {
    things: items.map((t) => ({
      thingName: t.thingName,
      thingArn: t.thingArn,
      ...(t.thingTypeName ? { thingTypeName: t.thingTypeName } : {}),
      attributes: t.attributes,
      version: t.version,
    })),
    ...(next ? { nextToken: next } : {}),
  };
}

const thingTypeCreated = (t: ThingType) => ({ thingTypeName: t.thingTypeName, thingTypeArn: t.thingTypeArn, thingTypeId: t.thingTypeId });

const thingTypeMetadata = (t: ThingType) => ({
  deprecated: t.deprecated,
  ...(t.deprecationDate ? { deprecationDate: t.deprecationDate } : {}),
  creationDate: t.creationDate,
});

function thingTypeDescription(t: ThingType) {
  return {
    thingTypeName: t.thingTypeName,
    thingTypeId: t.thingTypeId,
    thingTypeArn: t.thingTypeArn,
    thingTypeProperties: t.thingTypeProperties,
    thingTypeMetadata: thingTypeMetadata(t),
  };
}

function thingTypes({ items, next }: Page<ThingType>) {
  return {
    thingTypes: items.map((t) => ({
      thingTypeName: t.thingTypeName,
      thingTypeArn: t.thingTypeArn,
      thingTypeProperties: t.thingTypeProperties,
      thingTypeMetadata: thingTypeMetadata(t),
    })),
    ...nextToken(next),
  };
}

const thingGroupCreated = (g: ThingGroup) => ({ thingGroupName: g.thingGroupName, thingGroupArn: g.thingGroupArn, thingGroupId: g.thingGroupId });

/**
 * DescribeThingGroup. A child group names its ancestors, root first, in rootToParentThingGroups; `status`
 * is "the dynamic thing group status" (the model), so a static group has none.
 */
function thingGroupDescription(g: ThingGroup, ancestors: readonly ThingGroup[]) {
  return {
    thingGroupName: g.thingGroupName,
    thingGroupId: g.thingGroupId,
    thingGroupArn: g.thingGroupArn,
    version: g.version,
    thingGroupProperties: g.thingGroupProperties,
    thingGroupMetadata: {
      ...(g.parentGroupName ? { parentGroupName: g.parentGroupName } : {}),
      ...(ancestors.length ? { rootToParentThingGroups: ancestors.map((a) => ({ groupName: a.thingGroupName, groupArn: a.thingGroupArn })) } : {}),
      creationDate: g.creationDate,
    },
  };
}

const groupNamesAndArns = ({ items, next }: Page<{ groupName: string; groupArn: string | undefined }>) => ({
  thingGroups: items.map((g) => ({ groupName: g.groupName, ...(g.groupArn ? { groupArn: g.groupArn } : {}) })),
  ...nextToken(next),
});

const thingGroups = ({ items, next }: Page<ThingGroup>) =>
  groupNamesAndArns({ items: items.map((g) => ({ groupName: g.thingGroupName, groupArn: g.thingGroupArn })), ...(next ? { next } : {}) });

const policyCreated = (p: Policy) => ({ policyName: p.policyName, policyArn: p.policyArn, policyDocument: p.policyDocument, policyVersionId: p.defaultVersionId });

function policyDescription(p: Policy) {
  return {
    policyName: p.policyName,
    policyArn: p.policyArn,
    policyDocument: p.policyDocument,
    defaultVersionId: p.defaultVersionId,
    creationDate: p.creationDate,
    lastModifiedDate: p.lastModifiedDate,
    generationId: p.generationId,
  };
}

const policies = ({ items, next }: Page<{ policyName: string; policyArn: string }>) => ({
  policies: items.map((p) => ({ policyName: p.policyName, policyArn: p.policyArn })),
  ...nextMarker(next),
});

const policyVersion = (v: PolicyVersion & { isDefaultVersion: boolean }) => ({ versionId: v.versionId, isDefaultVersion: v.isDefaultVersion, createDate: v.createDate });

function topicRule(account: IotAccount, r: TopicRuleRecord) {
  return {
    ruleArn: account.arn(`rule/${r.ruleName}`),
    rule: {
      ruleName: r.ruleName,
      sql: r.sql,
      ...(r.description !== undefined ? { description: r.description } : {}),
      createdAt: r.createdAt,
      actions: r.actions,
      ruleDisabled: r.ruleDisabled,
      ...(r.awsIotSqlVersion !== undefined ? { awsIotSqlVersion: r.awsIotSqlVersion } : {}),
      ...(r.errorAction ? { errorAction: r.errorAction } : {}),
    },
  };
}

const templateCreated = (t: ProvisioningTemplate) => ({ templateArn: t.templateArn, templateName: t.templateName, defaultVersionId: 1 });
// Every field of the template, in the order it gained them, as DescribeProvisioningTemplate lists them.
const templateDescription = (t: ProvisioningTemplate) => ({ ...t, defaultVersionId: 1 });

function templates({ items, next }: Page<ProvisioningTemplate>) {
  return {
    templates: items.map((t) => ({
      templateArn: t.templateArn,
      templateName: t.templateName,
      ...(t.description ? { description: t.description } : {}),
      creationDate: t.creationDate,
      lastModifiedDate: t.lastModifiedDate,
      enabled: t.enabled,
      type: t.type,
    })),
    ...(next ? { nextToken: next } : {}),
  };
}

const roleAliasChanged = (a: RoleAlias) => ({ roleAlias: a.roleAlias, roleAliasArn: a.roleAliasArn });
const roleAliasDescription = (a: RoleAlias) => ({ roleAliasDescription: { ...a } });
const roleAliases = ({ items, next }: Page<string>) => ({ roleAliases: items, ...(next ? { nextMarker: next } : {}) });

// ---- AWS IoT Jobs (registry/jobs.ts) ----

const objectOf = <T>(value: unknown): T | undefined => (value && typeof value === 'object' && !Array.isArray(value) ? (value as T) : undefined);

/** What CreateJob and CreateJobTemplate read alike. */
function jobConfiguration(body: Record<string, unknown>) {
  return {
    description: str(body.description),
    document: str(body.document),
    documentSource: str(body.documentSource),
    jobExecutionsRolloutConfig: objectOf<Job['jobExecutionsRolloutConfig']>(body.jobExecutionsRolloutConfig),
    abortConfig: objectOf<Job['abortConfig']>(body.abortConfig),
    timeoutConfig: objectOf<Job['timeoutConfig']>(body.timeoutConfig),
  };
}

const jobChanged = (j: Job) => ({ jobArn: j.jobArn, jobId: j.jobId, ...(j.description !== undefined ? { description: j.description } : {}) });

function jobDescription(j: Job, jobProcessDetails: JobProcessDetails) {
  const { processingTargets, ...counts } = jobProcessDetails;
  return {
    ...(j.documentSource !== undefined ? { documentSource: j.documentSource } : {}),
    job: {
      jobArn: j.jobArn,
      jobId: j.jobId,
      targetSelection: j.targetSelection,
      status: j.status,
      forceCanceled: j.forceCanceled === true,
      ...(j.reasonCode !== undefined ? { reasonCode: j.reasonCode } : {}),
      ...(j.comment !== undefined ? { comment: j.comment } : {}),
      targets: j.targets,
      ...(j.description !== undefined ? { description: j.description } : {}),
      ...(j.jobExecutionsRolloutConfig ? { jobExecutionsRolloutConfig: j.jobExecutionsRolloutConfig } : {}),
      ...(j.abortConfig ? { abortConfig: j.abortConfig } : {}),
      createdAt: j.createdAt,
      lastUpdatedAt: j.lastUpdatedAt,
      ...(j.completedAt ? { completedAt: j.completedAt } : {}),
      jobProcessDetails: { ...(processingTargets.length ? { processingTargets } : {}), ...counts },
      ...(j.timeoutConfig ? { timeoutConfig: j.timeoutConfig } : {}),
      ...(j.jobTemplateArn ? { jobTemplateArn: j.jobTemplateArn } : {}),
      isConcurrent: false,
    },
  };
}

const jobSummaries = ({ items, next }: Page<Job>) => ({
  jobs: items.map((j) => ({
    jobArn: j.jobArn,
    jobId: j.jobId,
    targetSelection: j.targetSelection,
    status: j.status,
    createdAt: j.createdAt,
    lastUpdatedAt: j.lastUpdatedAt,
    ...(j.completedAt ? { completedAt: j.completedAt } : {}),
    isConcurrent: false,
  })),
  ...nextToken(next),
});

const executionSummary = (e: JobExecution) => ({
  status: e.status,
  queuedAt: e.queuedAt,
  ...(e.startedAt ? { startedAt: e.startedAt } : {}),
  lastUpdatedAt: e.lastUpdatedAt,
  executionNumber: e.executionNumber,
  retryAttempt: 0,
});

/** approximateSecondsBeforeTimedOut: the nearer of the in-progress and step timers, while one runs. */
function secondsBeforeTimedOut(e: JobExecution, now: Date): number | undefined {
  const deadlines = [e.inProgressDeadline, e.stepDeadline].filter((d): d is Date => d !== undefined).map((d) => d.getTime());
  return deadlines.length ? Math.max(0, Math.ceil((Math.min(...deadlines) - now.getTime()) / 1000)) : undefined;
}

function executionDescription(e: JobExecution, now: Date) {
  const seconds = secondsBeforeTimedOut(e, now);
  return {
    execution: {
      jobId: e.jobId,
      status: e.status,
      forceCanceled: e.forceCanceled === true,
      statusDetails: { detailsMap: e.statusDetails },
      thingArn: e.thingArn,
      queuedAt: e.queuedAt,
      ...(e.startedAt ? { startedAt: e.startedAt } : {}),
      lastUpdatedAt: e.lastUpdatedAt,
      executionNumber: e.executionNumber,
      versionNumber: e.versionNumber,
      ...(seconds !== undefined ? { approximateSecondsBeforeTimedOut: seconds } : {}),
    },
  };
}

function jobTemplateDescription(t: JobTemplate) {
  return {
    jobTemplateArn: t.jobTemplateArn,
    jobTemplateId: t.jobTemplateId,
    ...(t.description !== undefined ? { description: t.description } : {}),
    ...(t.documentSource !== undefined ? { documentSource: t.documentSource } : {}),
    ...(t.document !== undefined ? { document: t.document } : {}),
    createdAt: t.createdAt,
    ...(t.jobExecutionsRolloutConfig ? { jobExecutionsRolloutConfig: t.jobExecutionsRolloutConfig } : {}),
    ...(t.abortConfig ? { abortConfig: t.abortConfig } : {}),
    ...(t.timeoutConfig ? { timeoutConfig: t.timeoutConfig } : {}),
  };
}

// ---- the route table: one line per operation; an operation that answers nothing answers {} ----

function routes(issuer: AwsIssuer): Route[] {
  return [
    route('POST', '/keys-and-certificate', 'CreateKeysAndCertificate', async ({ account, query }) => {
      const issued = await issuer.createKeysAndCertificate();
      const record = account.certificates.addIssued(issued.certificate, bool(query.get('setAsActive')) ? 'ACTIVE' : 'INACTIVE');
      return {
        certificateArn: record.certificateArn,
        certificateId: record.certificateId,
        certificatePem: issued.certificatePem,
        keyPair: { PublicKey: issued.publicKeyPem, PrivateKey: issued.privateKeyPem },
      };
    }),
    route('POST', '/certificates', 'CreateCertificateFromCsr', async ({ account, query, body }) => {
      const signed = await issuer.signCsr(body.certificateSigningRequest);
      const record = account.certificates.addIssued(signed.certificate, bool(query.get('setAsActive')) ? 'ACTIVE' : 'INACTIVE');
      return { certificateArn: record.certificateArn, certificateId: record.certificateId, certificatePem: signed.certificatePem };
    }),
    route('POST', '/provisioning-templates', 'CreateProvisioningTemplate', ({ account, body }) => {
      const tags = tagsOf(body);
      const template = account.provisioning.createTemplate({
          templateName: str(body.templateName),
          templateBody: str(body.templateBody),
          provisioningRoleArn: str(body.provisioningRoleArn),
          description: str(body.description),
          enabled: typeof body.enabled === 'boolean' ? body.enabled : undefined,
          preProvisioningHook: body.preProvisioningHook as { targetArn?: string; payloadVersion?: string } | undefined,
          type: str(body.type),
        });
      account.tags.tagCreated(template.templateArn, tags);
      return templateCreated(template);
    }),
    route('GET', '/provisioning-templates', 'ListProvisioningTemplates', ({ account, query }) => templates(account.provisioning.listTemplates(tokenPaging(query)))),
    route('GET', '/provisioning-templates/{templateName}', 'DescribeProvisioningTemplate', ({ account, path }) =>
      templateDescription(account.provisioning.describeTemplate(path.templateName!)),
    ),
    route('PATCH', '/provisioning-templates/{templateName}', 'UpdateProvisioningTemplate', ({ account, path, body }) =>
      account.provisioning.updateTemplate(path.templateName!, {
        description: str(body.description),
        enabled: typeof body.enabled === 'boolean' ? body.enabled : undefined,
        provisioningRoleArn: str(body.provisioningRoleArn),
        preProvisioningHook: body.preProvisioningHook as { targetArn?: string; payloadVersion?: string } | undefined,
        removePreProvisioningHook: body.removePreProvisioningHook === true,
      }),
    ),
    route('DELETE', '/provisioning-templates/{templateName}', 'DeleteProvisioningTemplate', ({ account, path }) => {
      const template = account.provisioning.describeTemplate(path.templateName!);
      account.provisioning.deleteTemplate(path.templateName!);
      account.tags.forget(template.templateArn);
    }),
    route('POST', '/provisioning-templates/{templateName}/provisioning-claim', 'CreateProvisioningClaim', async ({ account, path }) => {
      const template = account.provisioning.describeTemplate(path.templateName!);
      // The claim certificate expires after 5 minutes (aws-iot-reference §3.4); so does its validity, both
      // on the account's clock (an injected one in tests).
      const expiration = account.provisioning.claimExpiration();
      const issued = await issuer.createKeysAndCertificate(expiration, new Date(account.now().getTime() - 24 * 3_600_000));
      const claim = account.provisioning.addClaim(issued.certificate, template.templateName, expiration);
      return {
        certificateId: claim.certificateId,
        certificatePem: issued.certificatePem,
        keyPair: { PublicKey: issued.publicKeyPem, PrivateKey: issued.privateKeyPem },
        expiration: claim.expiration,
      };
    }),
    route('GET', '/registrationcode', 'GetRegistrationCode', ({ account }) => ({ registrationCode: account.certificates.getRegistrationCode() })),
    route('DELETE', '/registrationcode', 'DeleteRegistrationCode', ({ account }) => account.certificates.deleteRegistrationCode()),
    route('POST', '/cacertificate', 'RegisterCACertificate', ({ account, body, query }) => {
      const tags = tagsOf(body);
      const ca = account.certificates.registerCa({
          caCertificate: str(body.caCertificate),
          verificationCertificate: str(body.verificationCertificate),
          setAsActive: bool(query.get('setAsActive')),
          allowAutoRegistration: bool(query.get('allowAutoRegistration')),
          registrationConfig: body.registrationConfig as Record<string, unknown> | undefined,
          certificateMode: str(body.certificateMode),
        });
      account.tags.tagCreated(ca.certificateArn, tags);
      return created(ca);
    }),
    route('GET', '/cacertificates', 'ListCACertificates', ({ account, query }) =>
      caCertificates(
        account.certificates.listCas(markerPaging(query), { ascending: bool(query.get('isAscendingOrder')), templateName: query.get('templateName') ?? undefined }),
      ),
    ),
    route('GET', '/cacertificate/{certificateId}', 'DescribeCACertificate', ({ account, path }) =>
      caCertificateDescription(account.certificates.describeCa(path.certificateId!)),
    ),
    route('PUT', '/cacertificate/{certificateId}', 'UpdateCACertificate', ({ account, path, query, body }) =>
      account.certificates.updateCa(path.certificateId!, {
        newStatus: query.get('newStatus') ?? undefined,
        newAutoRegistrationStatus: query.get('newAutoRegistrationStatus') ?? undefined,
        registrationConfig: body.registrationConfig as Record<string, unknown> | undefined,
        removeAutoRegistration: body.removeAutoRegistration === true,
      }),
    ),
    route('DELETE', '/cacertificate/{certificateId}', 'DeleteCACertificate', ({ account, path }) => {
      const ca = account.certificates.describeCa(path.certificateId!);
      account.certificates.deleteCa(path.certificateId!);
      account.tags.forget(ca.certificateArn);
    }),
    route('POST', '/certificate/register', 'RegisterCertificate', ({ account, body, query }) =>
      created(
        account.certificates.register({
          certificatePem: str(body.certificatePem),
          caCertificatePem: str(body.caCertificatePem),
          setAsActive: bool(query.get('setAsActive')),
          status: str(body.status),
        }),
      ),
    ),
    route('POST', '/certificate/register-no-ca', 'RegisterCertificateWithoutCA', ({ account, body }) =>
      created(account.certificates.registerWithoutCa({ certificatePem: str(body.certificatePem), status: str(body.status) })),
    ),
    route('GET', '/certificates', 'ListCertificates', ({ account, query }) =>
      certificates(account.certificates.list(markerPaging(query), bool(query.get('isAscendingOrder')))),
    ),
    route('GET', '/certificates-by-ca/{caCertificateId}', 'ListCertificatesByCA', ({ account, path, query }) =>
      certificates(account.certificates.listByCa(path.caCertificateId!, markerPaging(query), bool(query.get('isAscendingOrder')))),
    ),
    route('GET', '/certificates/{certificateId}', 'DescribeCertificate', ({ account, path }) =>
      certificateDescription(account.certificates.describe(path.certificateId!)),
    ),
    route('PUT', '/certificates/{certificateId}', 'UpdateCertificate', ({ account, path, query }) =>
      account.certificates.updateStatus(path.certificateId!, query.get('newStatus') ?? undefined),
    ),
    route('DELETE', '/certificates/{certificateId}', 'DeleteCertificate', ({ account, path, query }) =>
      account.certificates.delete(path.certificateId!, bool(query.get('forceDelete'))),
    ),
    route('GET', '/things', 'ListThings', ({ account, query }) =>
      things(
        account.things.list(tokenPaging(query), {
          thingTypeName: query.get('thingTypeName') ?? undefined,
          attributeName: query.get('attributeName') ?? undefined,
          attributeValue: query.get('attributeValue') ?? undefined,
          usePrefixAttributeValue: bool(query.get('usePrefixAttributeValue')),
        }),
      ),
    ),
    route('POST', '/things/{thingName}', 'CreateThing', ({ account, path, body }) =>
      thingCreated(
        account.things.create(path.thingName!, {
          thingTypeName: str(body.thingTypeName),
          attributePayload: body.attributePayload as { attributes?: Record<string, string> } | undefined,
          billingGroupName: str(body.billingGroupName),
        }),
      ),
    ),
    route('GET', '/things/{thingName}', 'DescribeThing', ({ account, path }) => thingDescription(account.things.describe(path.thingName!))),
    route('PATCH', '/things/{thingName}', 'UpdateThing', ({ account, path, body }) =>
      account.things.update(path.thingName!, {
        thingTypeName: str(body.thingTypeName),
        removeThingType: body.removeThingType === true,
        attributePayload: body.attributePayload as { attributes?: Record<string, string>; merge?: boolean } | undefined,
        expectedVersion: typeof body.expectedVersion === 'number' ? body.expectedVersion : undefined,
      }),
    ),
    route('DELETE', '/things/{thingName}', 'DeleteThing', ({ account, path, query }) =>
      account.things.delete(path.thingName!, int(query.get('expectedVersion'))),
    ),
    route('PUT', '/things/{thingName}/principals', 'AttachThingPrincipal', ({ account, path, headers, query }) =>
      account.things.attachPrincipal(path.thingName!, str(headers['x-amzn-principal']), query.get('thingPrincipalType') ?? undefined),
    ),
    route('DELETE', '/things/{thingName}/principals', 'DetachThingPrincipal', ({ account, path, headers }) =>
      account.things.detachPrincipal(path.thingName!, str(headers['x-amzn-principal'])),
    ),
    route('GET', '/things/{thingName}/principals', 'ListThingPrincipals', ({ account, path, query }) => {
      const { items, next } = account.things.listPrincipalsOf(path.thingName!, tokenPaging(query));
      return { principals: items, ...nextToken(next) };
    }),
    route('GET', '/things/{thingName}/thing-groups', 'ListThingGroupsForThing', ({ account, path, query }) =>
      groupNamesAndArns(account.things.listGroupsOf(path.thingName!, tokenPaging(query))),
    ),
    route('GET', '/principals/things', 'ListPrincipalThings', ({ account, headers, query }) => {
      const { items, next } = account.things.listThingsOfPrincipal(str(headers['x-amzn-principal']), tokenPaging(query));
      return { things: items, ...nextToken(next) };
    }),
    route('POST', '/thing-types/{thingTypeName}', 'CreateThingType', ({ account, path, body }) => {
      const tags = tagsOf(body);
      const type = account.things.createType(path.thingTypeName!, { thingTypeProperties: body.thingTypeProperties as Record<string, unknown> | undefined });
      account.tags.tagCreated(type.thingTypeArn, tags);
      return thingTypeCreated(type);
    }),
    route('GET', '/thing-types', 'ListThingTypes', ({ account, query }) =>
      thingTypes(account.things.listTypes(tokenPaging(query), query.get('thingTypeName') ?? undefined)),
    ),
    route('GET', '/thing-types/{thingTypeName}', 'DescribeThingType', ({ account, path }) =>
      thingTypeDescription(account.things.describeType(path.thingTypeName!)),
    ),
    route('POST', '/thing-types/{thingTypeName}/deprecate', 'DeprecateThingType', ({ account, path, body }) =>
      account.things.deprecateType(path.thingTypeName!, body.undoDeprecate === true),
    ),
    route('DELETE', '/thing-types/{thingTypeName}', 'DeleteThingType', ({ account, path }) => {
      const type = account.things.describeType(path.thingTypeName!);
      account.things.deleteType(path.thingTypeName!);
      account.tags.forget(type.thingTypeArn);
    }),
    route('PUT', '/thing-groups/addThingToThingGroup', 'AddThingToThingGroup', ({ account, body }) =>
      account.things.addToGroup({
        thingGroupName: str(body.thingGroupName),
        thingGroupArn: str(body.thingGroupArn),
        thingName: str(body.thingName),
        thingArn: str(body.thingArn),
      }),
    ),
    route('PUT', '/thing-groups/removeThingFromThingGroup', 'RemoveThingFromThingGroup', ({ account, body }) =>
      account.things.removeFromGroup({
        thingGroupName: str(body.thingGroupName),
        thingGroupArn: str(body.thingGroupArn),
        thingName: str(body.thingName),
        thingArn: str(body.thingArn),
      }),
    ),
    route('GET', '/thing-groups/{thingGroupName}/things', 'ListThingsInThingGroup', ({ account, path, query }) => {
      const { items, next } = account.things.thingsIn(path.thingGroupName!, {
        recursive: bool(query.get('recursive')),
        size: int(query.get('maxResults')),
        marker: query.get('nextToken') ?? undefined,
      });
      return { things: items, ...nextToken(next) };
    }),
    route('PUT', '/thing-groups/updateThingGroupsForThing', 'UpdateThingGroupsForThing', ({ account, body }) =>
      account.things.updateGroupsForThing({
        thingName: str(body.thingName),
        thingGroupsToAdd: strings(body.thingGroupsToAdd),
        thingGroupsToRemove: strings(body.thingGroupsToRemove),
      }),
    ),
    route('GET', '/thing-groups', 'ListThingGroups', ({ account, query }) =>
      thingGroups(
        account.things.listGroups(tokenPaging(query), {
          parentGroup: query.get('parentGroup') ?? undefined,
          namePrefixFilter: query.get('namePrefixFilter') ?? undefined,
          recursive: optionalBool(query.get('recursive')),
        }),
      ),
    ),
    route('POST', '/thing-groups/{thingGroupName}', 'CreateThingGroup', ({ account, path, body }) => {
      const tags = tagsOf(body);
      const group = account.things.createGroup(path.thingGroupName!, {
        parentGroupName: str(body.parentGroupName),
        thingGroupProperties: body.thingGroupProperties as Record<string, unknown> | undefined,
      });
      account.tags.tagCreated(group.thingGroupArn, tags);
      return thingGroupCreated(group);
    }),
    route('GET', '/thing-groups/{thingGroupName}', 'DescribeThingGroup', ({ account, path }) =>
      thingGroupDescription(account.things.describeGroup(path.thingGroupName!), account.things.ancestorsOf(path.thingGroupName!)),
    ),
    route('DELETE', '/thing-groups/{thingGroupName}', 'DeleteThingGroup', ({ account, path, query }) =>
      account.things.deleteGroup(path.thingGroupName!, int(query.get('expectedVersion'))),
    ),
    route('POST', '/policies/{policyName}', 'CreatePolicy', ({ account, path, body }) => {
      const tags = tagsOf(body);
      const policy = account.policies.create(path.policyName!, { policyDocument: str(body.policyDocument) });
      account.tags.tagCreated(policy.policyArn, tags);
      return policyCreated(policy);
    }),
    route('GET', '/policies', 'ListPolicies', ({ account, query }) => policies(account.policies.list(markerPaging(query), bool(query.get('isAscendingOrder'))))),
    route('GET', '/policies/{policyName}', 'GetPolicy', ({ account, path }) => policyDescription(account.policies.get(path.policyName!))),
    route('DELETE', '/policies/{policyName}', 'DeletePolicy', ({ account, path }) => {
      const policy = account.policies.get(path.policyName!);
      account.policies.delete(path.policyName!);
      account.tags.forget(policy.policyArn);
    }),
    route('POST', '/policies/{policyName}/version', 'CreatePolicyVersion', ({ account, path, query, body }) => {
      const v = account.policies.createVersion(path.policyName!, { policyDocument: str(body.policyDocument), setAsDefault: bool(query.get('setAsDefault')) });
      return { policyArn: v.policyArn, policyDocument: v.policyDocument, policyVersionId: v.versionId, isDefaultVersion: v.isDefaultVersion };
    }),
    route('GET', '/policies/{policyName}/version', 'ListPolicyVersions', ({ account, path }) => ({
      policyVersions: account.policies.listVersions(path.policyName!).map(policyVersion),
    })),
    route('GET', '/policies/{policyName}/version/{policyVersionId}', 'GetPolicyVersion', ({ account, path }) => {
      const v = account.policies.getVersion(path.policyName!, path.policyVersionId!);
      return {
        policyArn: v.policy.policyArn,
        policyName: v.policy.policyName,
        policyDocument: v.policyDocument,
        policyVersionId: v.versionId,
        isDefaultVersion: v.isDefaultVersion,
        creationDate: v.createDate,
        lastModifiedDate: v.lastModifiedDate,
        generationId: v.generationId,
      };
    }),
    route('PATCH', '/policies/{policyName}/version/{policyVersionId}', 'SetDefaultPolicyVersion', ({ account, path }) =>
      account.policies.setDefaultVersion(path.policyName!, path.policyVersionId!),
    ),
    route('DELETE', '/policies/{policyName}/version/{policyVersionId}', 'DeletePolicyVersion', ({ account, path }) =>
      account.policies.deleteVersion(path.policyName!, path.policyVersionId!),
    ),
    route('PUT', '/target-policies/{policyName}', 'AttachPolicy', ({ account, path, body }) => account.policies.attach(path.policyName!, str(body.target))),
    // The deprecated form seed 001's Lambda uses (the bench's baseline): same effect as AttachPolicy.
    route('PUT', '/principal-policies/{policyName}', 'AttachPrincipalPolicy', ({ account, path, headers }) =>
      account.policies.attach(path.policyName!, str(headers['x-amzn-iot-principal'])),
    ),
    route('DELETE', '/principal-policies/{policyName}', 'DetachPrincipalPolicy', ({ account, path, headers }) =>
      account.policies.detach(path.policyName!, str(headers['x-amzn-iot-principal'])),
    ),
    route('GET', '/principal-policies', 'ListPrincipalPolicies', ({ account, headers, query }) => {
      const principal = str(headers['x-amzn-iot-principal']);
      if (!principal) throw invalid('A principal must be given.');
      return policies(account.policies.listAttached(principal, markerPaging(query), { list: 'ListPrincipalPolicies', ascending: optionalBool(query.get('isAscendingOrder')) ?? true }));
    }),
    route('POST', '/policy-targets/{policyName}', 'ListTargetsForPolicy', ({ account, path, query }) => {
      const { items, next } = account.policies.targetsOf(path.policyName!, markerPaging(query));
      return { targets: items, ...nextMarker(next) };
    }),
    route('POST', '/target-policies/{policyName}', 'DetachPolicy', ({ account, path, body }) => account.policies.detach(path.policyName!, str(body.target))),
    route('POST', '/attached-policies/{target}', 'ListAttachedPolicies', ({ account, path, query }) =>
      policies(account.policies.listAttached(path.target!, markerPaging(query), { list: 'ListAttachedPolicies', recursive: bool(query.get('recursive')) })),
    ),
    route('POST', '/role-aliases/{roleAlias}', 'CreateRoleAlias', ({ account, path, body }) => {
      const tags = tagsOf(body);
      const alias = account.roleAliases.create(path.roleAlias!, {
        roleArn: str(body.roleArn),
        credentialDurationSeconds: typeof body.credentialDurationSeconds === 'number' ? body.credentialDurationSeconds : undefined,
      });
      account.tags.tagCreated(alias.roleAliasArn, tags);
      return roleAliasChanged(alias);
    }),
    route('GET', '/role-aliases', 'ListRoleAliases', ({ account, query }) =>
      roleAliases(account.roleAliases.list(markerPaging(query), bool(query.get('isAscendingOrder')))),
    ),
    route('GET', '/role-aliases/{roleAlias}', 'DescribeRoleAlias', ({ account, path }) => roleAliasDescription(account.roleAliases.describe(path.roleAlias!))),
    route('PUT', '/role-aliases/{roleAlias}', 'UpdateRoleAlias', ({ account, path, body }) =>
      roleAliasChanged(
        account.roleAliases.update(path.roleAlias!, {
          roleArn: str(body.roleArn),
          credentialDurationSeconds: typeof body.credentialDurationSeconds === 'number' ? body.credentialDurationSeconds : undefined,
        }),
      ),
    ),
    route('DELETE', '/role-aliases/{roleAlias}', 'DeleteRoleAlias', ({ account, path }) => {
      const alias = account.roleAliases.describe(path.roleAlias!);
      account.roleAliases.delete(path.roleAlias!);
      account.tags.forget(alias.roleAliasArn);
    }),
    route('GET', '/rules', 'ListTopicRules', ({ account, query }) => {
      const { items, next } = account.listTopicRules(tokenPaging(query), {
        topic: query.get('topic') ?? undefined,
        ruleDisabled: optionalBool(query.get('ruleDisabled')),
      });
      return {
        rules: items.map((r) => ({ ruleArn: account.arn(`rule/${r.ruleName}`), ruleName: r.ruleName, topicPattern: r.topicPattern, createdAt: r.createdAt, ruleDisabled: r.ruleDisabled })),
        ...nextToken(next),
      };
    }),
    route('GET', '/rules/{ruleName}', 'GetTopicRule', ({ account, path }) => topicRule(account, account.topicRule(path.ruleName!))),
    route('POST', '/rules/{ruleName}/enable', 'EnableTopicRule', ({ account, path }) => account.setTopicRuleDisabled(path.ruleName!, false)),
    route('POST', '/rules/{ruleName}/disable', 'DisableTopicRule', ({ account, path }) => account.setTopicRuleDisabled(path.ruleName!, true)),
    route('POST', '/tags', 'TagResource', ({ account, body }) => account.tags.tag(str(body.resourceArn), body.tags)),
    route('POST', '/untag', 'UntagResource', ({ account, body }) => account.tags.untag(str(body.resourceArn), body.tagKeys)),
    route('GET', '/tags', 'ListTagsForResource', ({ account, query }) => {
      const { items, next } = account.tags.list(query.get('resourceArn') ?? undefined, { marker: query.get('nextToken') ?? undefined });
      return { tags: items, ...nextToken(next) };
    }),
    route('PUT', '/job-templates/{jobTemplateId}', 'CreateJobTemplate', ({ account, path, body }) => {
      const tags = tagsOf(body);
      const template = account.jobs.createTemplate(path.jobTemplateId!, { ...jobConfiguration(body), jobArn: str(body.jobArn) });
      account.tags.tagCreated(template.jobTemplateArn, tags);
      return { jobTemplateArn: template.jobTemplateArn, jobTemplateId: template.jobTemplateId };
    }),
    route('GET', '/job-templates', 'ListJobTemplates', ({ account, query }) => {
      const { items, next } = account.jobs.listTemplates(tokenPaging(query));
      return {
        jobTemplates: items.map((t) => ({ jobTemplateArn: t.jobTemplateArn, jobTemplateId: t.jobTemplateId, ...(t.description !== undefined ? { description: t.description } : {}), createdAt: t.createdAt })),
        ...nextToken(next),
      };
    }),
    route('GET', '/job-templates/{jobTemplateId}', 'DescribeJobTemplate', ({ account, path }) => jobTemplateDescription(account.jobs.describeTemplate(path.jobTemplateId!))),
    route('DELETE', '/job-templates/{jobTemplateId}', 'DeleteJobTemplate', ({ account, path }) => {
      const template = account.jobs.describeTemplate(path.jobTemplateId!);
      account.jobs.deleteTemplate(path.jobTemplateId!);
      account.tags.forget(template.jobTemplateArn);
    }),
    route('PUT', '/jobs/{jobId}', 'CreateJob', ({ account, path, body }) => {
      const tags = tagsOf(body);
      const job = account.jobs.createJob(path.jobId!, { ...jobConfiguration(body), targets: body.targets, targetSelection: str(body.targetSelection), jobTemplateArn: str(body.jobTemplateArn) });
      account.tags.tagCreated(job.jobArn, tags);
      return jobChanged(job);
    }),
    route('GET', '/jobs', 'ListJobs', ({ account, query }) =>
      jobSummaries(
        account.jobs.listJobs(tokenPaging(query), {
          status: query.get('status') ?? undefined,
          targetSelection: query.get('targetSelection') ?? undefined,
          thingGroupName: query.get('thingGroupName') ?? undefined,
        }),
      ),
    ),
    route('GET', '/jobs/{jobId}', 'DescribeJob', ({ account, path }) => {
      const { job, jobProcessDetails } = account.jobs.describeJob(path.jobId!);
      return jobDescription(job, jobProcessDetails);
    }),
    route('DELETE', '/jobs/{jobId}', 'DeleteJob', ({ account, path, query }) => {
      const job = account.jobs.describeJob(path.jobId!).job;
      account.jobs.deleteJob(path.jobId!, bool(query.get('force')));
      account.tags.forget(job.jobArn);
    }),
    route('PUT', '/jobs/{jobId}/cancel', 'CancelJob', ({ account, path, query, body }) =>
      jobChanged(account.jobs.cancelJob(path.jobId!, { reasonCode: str(body.reasonCode), comment: str(body.comment), force: bool(query.get('force')) })),
    ),
    route('GET', '/jobs/{jobId}/things', 'ListJobExecutionsForJob', ({ account, path, query }) => {
      const { items, next } = account.jobs.listExecutionsForJob(path.jobId!, tokenPaging(query), query.get('status') ?? undefined);
      return { executionSummaries: items.map((e) => ({ thingArn: e.thingArn, jobExecutionSummary: executionSummary(e) })), ...nextToken(next) };
    }),
    route('GET', '/things/{thingName}/jobs', 'ListJobExecutionsForThing', ({ account, path, query }) => {
      const { items, next } = account.jobs.listExecutionsForThing(path.thingName!, tokenPaging(query), { status: query.get('status') ?? undefined, jobId: query.get('jobId') ?? undefined });
      return { executionSummaries: items.map((e) => ({ jobId: e.jobId, jobExecutionSummary: executionSummary(e) })), ...nextToken(next) };
    }),
    route('GET', '/things/{thingName}/jobs/{jobId}', 'DescribeJobExecution', ({ account, path, query }) =>
      executionDescription(account.jobs.describeExecution(path.jobId!, path.thingName!, int(query.get('executionNumber'))), account.now()),
    ),
    route('PUT', '/things/{thingName}/jobs/{jobId}/cancel', 'CancelJobExecution', ({ account, path, query, body }) =>
      account.jobs.cancelExecution(path.jobId!, path.thingName!, {
        force: bool(query.get('force')),
        expectedVersion: typeof body.expectedVersion === 'number' ? body.expectedVersion : undefined,
        statusDetails: body.statusDetails,
      }),
    ),
    route('PATCH', '/event-configurations', 'UpdateEventConfigurations', ({ account, body }) => {
      account.eventConfigurations.update(body.eventConfigurations);
      return {};
    }),
    route('GET', '/event-configurations', 'DescribeEventConfigurations', ({ account }) => account.eventConfigurations.describe()),
    route('GET', '/endpoint', 'DescribeEndpoint', ({ account, query }) => ({ endpointAddress: account.endpoint(query.get('endpointType') ?? undefined) })),
  ];
}

export interface ServedOperation {
  operation: string;
  method: string;
  /** The route's path template, e.g. `/things/{thingName}`. */
  template: string;
}

/**
 * Every operation the route table serves, in its order: what the conformance test
 * (test/conformance/control-plane-model.test.ts) holds to the `iot` service model, one scenario each.
 */
export function servedOperations(): ServedOperation[] {
  // The handlers are never called here, so they need no issuer.
  return routes({} as AwsIssuer).map(({ operation, method, template }) => ({ operation, method, template }));
}

/** The job operations (not the job templates'): they document no internal error, only ServiceUnavailableException (503). */
const JOB_OPERATIONS = new Set(['CreateJob', 'DescribeJob', 'ListJobs', 'DeleteJob', 'CancelJob', 'ListJobExecutionsForJob', 'ListJobExecutionsForThing', 'DescribeJobExecution', 'CancelJobExecution']);

/**
 * The error an unexpected failure answers: the topic-rule operations document InternalException (500) where
 * every other operation documents InternalFailureException (500), in the `iot` service model, but the job
 * operations, which document ServiceUnavailableException (503) as their only server error.
 */
export function internalErrorOf(operation: string | undefined): 'InternalException' | 'InternalFailureException' | 'ServiceUnavailableException' {
  if (operation && JOB_OPERATIONS.has(operation)) return 'ServiceUnavailableException';
  return operation?.endsWith('TopicRule') || operation?.endsWith('TopicRules') ? 'InternalException' : 'InternalFailureException';
}

/** Epoch seconds for dates, as rest-json timestamps are (aws-iot-reference §0). */
function toWire(value: unknown): unknown {
  if (value instanceof Date) return value.getTime() / 1000;
  if (Array.isArray(value)) return value.map(toWire);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, toWire(v)]));
  }
  return value;
}


async function readBody(request: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const text = Buffer.concat(chunks).toString('utf8').trim();
  if (!text) return {};
  try {
    const parsed = JSON.parse(text) as unknown;
    if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as Record<string, unknown>;
  } catch {
    throw invalid('The request body is not a JSON object.');
  }
}

export interface ControlPlaneOptions {
  registry: IotRegistry;
  issuer: AwsIssuer;
  traffic: TrafficControl;
  /** Extra routes under /_local/ (the local IoT Core's own test and demo API). */
  localRoute?: LocalRoute;
  rawLocalRoute?: RawLocalRoute;
  /**
   * IAM: may the caller make this call (local/iam/service-guards.ts)? An IotError refuses it (AccessDenied,
   * an unknown token); called after the route is found, before the operation runs.
   */
  authorize?: (call: { authorization: string | undefined; operation: string; accountId: string; path: Record<string, string>; headers: IncomingMessage['headers']; body: Record<string, unknown> }) => Promise<IotError | undefined>;
}

export class ControlPlaneServer {
  private readonly server: Server;
  private readonly table: Route[];

  constructor(private readonly options: ControlPlaneOptions) {
    this.table = routes(options.issuer);
    this.server = createServer((request, response) => void this.handle(request, response));
    this.server.keepAliveTimeout = 5_000;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    return `http://${host}:${await listenOn(this.server, port, host)}`;
  }

  async close(): Promise<void> {
    await closeServer(this.server);
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const send = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
      const body = JSON.stringify(payload);
      response.writeHead(status, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'x-amzn-requestid': requestId,
        ...headers,
      });
      response.end(body);
    };
    const url = new URL(request.url ?? '/', 'http://localhost');
    const method = request.method ?? 'GET';
    let operation: string | undefined;
    try {
      // CloudFormation ResponseURLs: the body is judged as sent, not parsed as an API request.
      if (url.pathname.startsWith('/_local/cloudformation-responses/') && this.options.rawLocalRoute) {
        const chunks: Buffer[] = [];
        for await (const chunk of request) chunks.push(chunk as Buffer);
        const result = this.options.rawLocalRoute(method, url.pathname.slice('/_local'.length), Buffer.concat(chunks), request.headers['content-type']);
        if (result === undefined) throw new IotError('ResourceNotFoundException', `No local route ${method} ${url.pathname}`);
        send(200, toWire(result));
        return;
      }
      if (url.pathname.startsWith('/_local/') && this.options.localRoute) {
        const result = await this.options.localRoute(method, url.pathname.slice('/_local'.length), await readBody(request));
        if (result === undefined) throw new IotError('ResourceNotFoundException', `No local route ${method} ${url.pathname}`);
        send(200, toWire(result));
        return;
      }
      const segments = url.pathname;
      for (const candidate of this.table) {
        if (candidate.method !== method) continue;
        const match = candidate.pattern.exec(segments);
        if (!match) continue;
        const path = Object.fromEntries(candidate.names.map((name, i) => [name, decodeURIComponent(match[i + 1]!)]));
        const account = this.options.registry.account(accountOfRequest(request.headers.authorization, this.options.registry.defaultAccountId));
        const body = await readBody(request);
        operation = candidate.operation;
        const refusal = await this.options.authorize?.({ authorization: request.headers.authorization, operation: candidate.operation, accountId: account.accountId, path, headers: request.headers, body });
        if (refusal) throw refusal;
        this.options.traffic.admit(account.accountId, candidate.operation);
        const result = await candidate.handler({ account, path, query: url.searchParams, headers: request.headers, body });
        send(200, toWire(result ?? {}));
        return;
      }
      request.resume();
      // The data plane (iot-data: Publish, shadows) has its own endpoint, as on AWS (data-plane-server.ts).
      throw invalid(`Unsupported operation: ${method} ${url.pathname} (this endpoint serves the control plane only; iot-data is at AWS_ENDPOINT_URL_IOT_DATA_PLANE)`);
    } catch (error) {
      if (error instanceof IotError) {
        send(error.status, { message: error.message, __type: error.code, ...error.extra }, { 'x-amzn-errortype': error.code });
        return;
      }
      const code = internalErrorOf(operation);
      send(ERROR_STATUS[code], { message: 'An unexpected error has occurred.', __type: code }, { 'x-amzn-errortype': code });
      console.error('[local-iot] internal error', error);
    }
  }
}
