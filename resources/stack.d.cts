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
}
declare function resolveStack(context: { resolveVariable: (name: string) => Promise<unknown> }): Promise<StackResources>;
declare namespace resolveStack {
  function buildResources(settings: StackSettings): StackResources;
  function devicePolicyDocument(arnPrefix: string, roleAlias?: string, thingName?: string): Record<string, unknown>;
  function claimPolicyDocument(arnPrefix: string, templateName: string): Record<string, unknown>;
  function fleetTemplateBody(options: { devicePolicyName: string; thingGroup: string; thingType: string; attributeNames: string[] }): Record<string, unknown>;
  function registeredRuleSql(caCertificateIds: string[]): string;
  function registryTableName(service: string, stage: string): string;
  function ledgerTableName(service: string, stage: string): string;
  function fleetThingGroupName(service: string, stage: string): string;
  function deviceThingTypeName(service: string, stage: string): string;
  function ruleName(service: string, stage: string): string;
  function roleAliasName(service: string, stage: string): string;
  function retirementQueueName(service: string, stage: string): string;
  function certificateResourceExportName(service: string, stage: string): string;
  function splitIds(value: string | undefined): string[];
  function splitNames(value: string | undefined): string[];
  const FUNCTIONS: Record<
    'activateCertificate' | 'preProvisioningHook' | 'vendProvisioningClaim' | 'vendCertificate' | 'retireCertificate' | 'certificateResource',
    string
  >;
}
export = resolveStack;
