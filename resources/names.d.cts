/** The functions of serverless.yml (resources/names.cjs FUNCTIONS; test/unit/function-resources.test.ts keeps them the same). */
export type FunctionKey =
  | 'activateCertificate'
  | 'preProvisioningHook'
  | 'vendProvisioningClaim'
  | 'vendCertificate'
  | 'retireCertificate'
  | 'certificateResource'
  | 'expirySweep'
  | 'consoleDevices'
  | 'consoleActions'
  | 'consoleQueue'
  | 'rotateCertificate'
  | 'rotationEvents';
export interface StackNames {
  registryTable: string;
  ledgerTable: string;
  timelineTable: string;
  retirementQueue: string;
  failureQueue: string;
  roleAlias: string;
  devicePolicy: string;
  fleetTemplate: string;
  claimPolicy: string;
  fleetThingGroup: string;
  quarantineThingGroup: string;
  deviceThingType: string;
  certificateRegisteredRule: string;
  rotationCsrRule: string;
  rotationConnectedRule: string;
  rotationJobExecutionRule: string;
  findingsTopic: string;
  certificateAudit: string;
  metricsNamespace: string;
  alarmsTopic: string;
  dashboard: string;
  claimRefusalsRule: string;
  userPool: string;
  userPoolClient: string;
  prefix: string;
  consoleOriginAccess: string;
  consoleHeaders: string;
  consoleClient: string;
  certificateResourceExport: string;
  rotationJobTemplate: string;
  functions: Record<FunctionKey, string>;
}
declare function resolveNames(context: { resolveVariable: (name: string) => unknown }): StackNames | Promise<StackNames>;
declare namespace resolveNames {
  function namesFor(service: string, stage: string): StackNames;
  function functionName(service: string, stage: string, name: string): string;
  function generatedName(service: string, stage: string, logicalId: string): string;
  const FUNCTIONS: Record<FunctionKey, string>;
}
export = resolveNames;
