import type { IotDirectory } from './iot-ports';
import type { ProvisioningLedger, Requester } from './ledger-ports';
import type { Log } from '../log';
import type { Metrics } from '../metrics-port';

/**
 * Trusted-user provisioning (seed 004, done right): an authenticated user asks for a temporary claim
 * certificate of the stack's template. We call CreateProvisioningClaim ourselves — users get no IoT
 * permissions — record who asked, and hand out the certificate, its key, the expiry and the endpoint.
 * The private key is returned once and never logged. The HTTP surface is `functions/vend-provisioning-claim/http.ts`.
 */

export interface ClaimVendingDeps {
  iot: Pick<IotDirectory, 'createProvisioningClaim'>;
  /** The account's data endpoint, looked up once per container. */
  dataEndpoint: () => Promise<string>;
  ledger: Pick<ProvisioningLedger, 'recordClaim'>;
  templateName: string;
  now: () => Date;
  log: Log;
  /** `ClaimsVended`, once the claim is recorded. */
  metrics?: Metrics;
}

export interface ClaimAnswer {
  certificateId: string;
  /** The device it provisions, when the request named one. */
  deviceId?: string;
  certificatePem: string;
  privateKey: string;
  expiration: string;
  templateName: string;
  endpoint: string;
  provisionTopic: string;
}

/** The only outcome: AWS failures are thrown (the edge answers 429 or 500). */
export type ClaimOutcome = { kind: 'issued'; answer: ClaimAnswer };

export async function vendProvisioningClaim(requester: Requester, deps: ClaimVendingDeps, request: { deviceId?: string } = {}): Promise<ClaimOutcome> {
  const [claim, endpoint] = await Promise.all([deps.iot.createProvisioningClaim(deps.templateName), deps.dataEndpoint()]);
  // Recorded before it is handed out: a claim nobody can trace back to a user is not handed out.
  await deps.ledger.recordClaim({
    claimCertificateId: claim.certificateId,
    templateName: deps.templateName,
    requestedBy: requester,
    issuedAt: deps.now(),
    expiresAt: claim.expiration,
    ...(request.deviceId ? { deviceId: request.deviceId } : {}),
  });
  deps.metrics?.count('ClaimsVended', {});
  deps.log.info('provisioning claim vended', { requestedBy: requester.sub, claimCertificateId: claim.certificateId, deviceId: request.deviceId });
  return {
    kind: 'issued',
    answer: {
      certificateId: claim.certificateId,
      ...(request.deviceId ? { deviceId: request.deviceId } : {}),
      certificatePem: claim.certificatePem,
      privateKey: claim.privateKey,
      expiration: claim.expiration.toISOString(),
      templateName: deps.templateName,
      endpoint,
      provisionTopic: `$aws/provisioning-templates/${deps.templateName}/provision/json`,
    },
  };
}
