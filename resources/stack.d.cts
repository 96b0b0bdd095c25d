export interface StackSettings {
  service: string;
  stage: string;
  devicePolicyName: string;
  caCertificateIds: string[];
  caCertificatePem?: string;
  caCertificateMode: 'SNI_ONLY' | 'DEFAULT' | string;
  verificationCertificatePem?: string;
  fleetTemplateName: string;
  fleetThingAttributes: string[];
  /** Where alarms are mailed (resources/observability.cjs); '' or absent = no subscription. */
  alarmEmail?: string;
  /** Device Defender audit resources (resources/audit.cjs); absent = off. */
  deviceDefenderAudit?: boolean;
  expiryWarningDays?: number;
  certificateMaxAgeDays?: number;
  /** The console's sign-in (resources/operators.cjs): required (default) | optional TOTP. */
  consoleMfa?: string;
  /** The console's URL(s), comma-separated: the console client's callback and sign-out URLs. */
  consoleUrl?: string;
  /** The hosted sign-in domain's prefix; absent = <service>-<stage>-<account id>. */
  consoleSignInDomainPrefix?: string;
  /** The rotation job template's rollout, abort and timeout (resources/rotation.cjs); absent = the defaults. */
  rotation?: RotationSettings;
}
export interface RotationSettings {
  maximumPerMinute: number;
  baseRatePerMinute: number;
  incrementFactor: number;
  rateIncreaseNotifiedThings: number;
  abortThresholdPercentage: number;
  abortMinExecutedThings: number;
  inProgressTimeoutMinutes: number;
}
export interface CfnResource {
  Type: string;
  Properties: Record<string, unknown>;
  DependsOn?: string[];
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
}
export interface StackResources {
  Resources: Record<string, CfnResource>;
  Outputs: Record<string, { Value: unknown; Export?: { Name: unknown } }>;
  /** Properties of resources osls generates itself (resources.extensions): the HTTP API's CORS. */
  extensions?: { HttpApi?: { Properties: { CorsConfiguration: { AllowOrigins: unknown[]; AllowHeaders: string[]; AllowMethods: string[]; MaxAge: number } } } };
}
/** A function's deployment, beside its handler: functions/<name>/resources.cjs. */
export interface FunctionDeployment {
  /** The function's osls events (serverless.yml reads them with `${file(…):events}`). */
  events: unknown[];
  resources(stack: unknown): StackResources;
}
declare function resolveStack(context: { resolveVariable: (name: string) => Promise<unknown> }): Promise<StackResources>;
declare namespace resolveStack {
  function buildResources(settings: StackSettings): StackResources;
  /** What each part of the stack is built from (the `stack` argument of a FunctionDeployment's `resources`). */
  function stackContext(settings: StackSettings): unknown;
  function devicePolicyDocument(arnPrefix: string, roleAlias?: string, thingName?: string): Record<string, unknown>;
  function claimPolicyDocument(arnPrefix: string, templateName: string): Record<string, unknown>;
  function fleetTemplateBody(options: { devicePolicyName: string; thingGroup: string; thingType: string; attributeNames: string[] }): Record<string, unknown>;
  function splitIds(value: string | undefined): string[];
  function splitNames(value: string | undefined): string[];
  function auditSettings(params: { deviceDefenderAudit?: string; expiryWarningDays?: string; certificateMaxAgeDays?: string }): {
    deviceDefenderAudit: boolean;
    expiryWarningDays: number;
    certificateMaxAgeDays: number;
  };
  function consoleSettings(params: { consoleMfa?: string; consoleUrl?: string; consoleSignInDomainPrefix?: string }): {
    consoleMfa?: string;
    consoleUrl?: string;
    consoleSignInDomainPrefix?: string;
  };
  function rotationSettings(params?: Record<string, string | undefined>): { rotation: RotationSettings };
  const FUNCTION_DEPLOYMENTS: Record<
    'activateCertificate' | 'preProvisioningHook' | 'vendProvisioningClaim' | 'vendCertificate' | 'retireCertificate' | 'certificateResource' | 'expirySweep',
    FunctionDeployment
  >;
}
export = resolveStack;
