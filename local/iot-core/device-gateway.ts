import type { X509Certificate } from 'node:crypto';
import { certificateIdOf, splitPemChain, validityOf } from './pem';
import type { IotAccount } from './registry/account';
import type { CaCertificate, DeviceCertificate } from './registry/certificates';
import type { IotRegistry } from './registry/iot-registry';
import type { ProvisioningClaim } from './registry/provisioning';
import { CERTIFICATE_REGISTRATIONS_PER_SECOND, type TrafficControl } from './traffic';

/**
 * How AWS IoT admits a device that presents a client certificate, in two stages (aws-iot-reference §1–2):
 *
 * 1. TLS handshake: the certificate must be within its validity window and either registered or issued
 *    by a registered CA. SNI picks the account; SNI_ONLY (multi-account) certificates and CAs need it.
 * 2. MQTT CONNECT: an ACTIVE certificate is accepted. An unknown certificate from an ACTIVE CA with
 *    auto-registration is registered PENDING_ACTIVATION, the registered event is published, and the
 *    connection is closed; while it stays PENDING_ACTIVATION every CONNECT publishes the event again.
 *
 * Registration happens on CONNECT, not on the handshake alone (observed on AWS and reported in
 * ministackorg/ministack#1755; the reference doc's §1.2 says the handshake fails — see local/README.md).
 * The MQTT endpoint calls `verifyHandshake` from its TLS layer and `connect` on the CONNECT packet;
 * `firstConnect` runs both for callers without a socket (the sandbox, tests, POST /_local/connect).
 */

export type HandshakeResult =
  | {
      ok: true;
      account: IotAccount;
      certificate: X509Certificate;
      certificateId: string;
      registered?: DeviceCertificate;
      claim?: ProvisioningClaim;
      ca?: CaCertificate;
    }
  | { ok: false; reason: string };

/** Accepted connections carry the registered certificate, or the provisioning claim, they authenticated with. */
export type ConnectResult =
  | { accepted: true; stage: 'connect'; account: IotAccount; certificateId: string; certificate?: DeviceCertificate; claim?: ProvisioningClaim }
  | { accepted: false; stage: 'tls' | 'connect'; reason: string; certificateId?: string; registered?: boolean };

export type Publish = (account: IotAccount, topic: string, payload: unknown) => void;

export class DeviceGateway {
  /** Parsed chains by PEM: devices reconnect with the same certificate, often thousands at once (the burst bench). */
  private readonly parsedChains = new Map<string, X509Certificate[]>();

  constructor(
    private readonly registry: IotRegistry,
    private readonly traffic: TrafficControl,
    private readonly publish: Publish,
    private readonly now: () => Date = () => new Date(),
  ) {}

  verifyHandshake(chain: readonly X509Certificate[], serverName?: string): HandshakeResult {
    const certificate = chain[0];
    if (!certificate) return { ok: false, reason: 'no-client-certificate' };
    const now = this.now();
    const { notBefore, notAfter } = validityOf(certificate);
    if (now < notBefore) return { ok: false, reason: 'certificate-not-yet-valid' };
    if (now > notAfter) return { ok: false, reason: 'certificate-expired' };

    const certificateId = certificateIdOf(certificate);
    const sniAccount = this.registry.accountForServerName(serverName);
    if (serverName && !sniAccount) return { ok: false, reason: 'unknown-endpoint' };
    const accounts = sniAccount ? [sniAccount] : this.registry.allAccounts();
    for (const account of accounts) {
      // Claim certificates from CreateProvisioningClaim are AWS-issued and not in the certificate list.
      const claim = account.provisioning.findClaim(certificateId);
      if (claim) return { ok: true, account, certificate, certificateId, claim };
      const registered = account.certificates.find(certificateId);
      const ca = registered?.caCertificateId ? account.certificates.findCa(registered.caCertificateId) : account.certificates.issuingCa(certificate);
      if (!registered && !ca) continue;
      const mode = registered?.certificateMode ?? ca!.certificateMode;
      // Without SNI only DEFAULT-mode certificates can be routed to their (single) account.
      if (!sniAccount && mode === 'SNI_ONLY') continue;
      if (ca) {
        const validity = validityOf(ca.x509);
        if (now < validity.notBefore || now > validity.notAfter) return { ok: false, reason: 'ca-certificate-expired' };
      }
      return { ok: true, account, certificate, certificateId, ...(registered ? { registered } : {}), ...(ca ? { ca } : {}) };
    }
    if (!sniAccount && this.anySniOnlyMatch(certificate, certificateId)) return { ok: false, reason: 'sni-required' };
    return { ok: false, reason: 'unknown-certificate-authority' };
  }

  private anySniOnlyMatch(certificate: X509Certificate, certificateId: string): boolean {
    return this.registry
      .allAccounts()
      .some(
        (account) =>
          account.certificates.find(certificateId) !== undefined ||
          account.provisioning.findClaim(certificateId) !== undefined ||
          account.certificates.issuingCa(certificate) !== undefined,
      );
  }

  connect(handshake: Extract<HandshakeResult, { ok: true }>): ConnectResult {
    const { account, certificate, certificateId, ca, claim } = handshake;
    if (claim) {
      // A temporary claim is usable for 5 minutes after it was issued (aws-iot-reference §3.4).
      if (this.now() > claim.expiration) return { accepted: false, stage: 'connect', reason: 'claim-expired', certificateId };
      return { accepted: true, stage: 'connect', account, certificateId, claim };
    }
    const registered = account.certificates.find(certificateId);
    if (registered) {
      if (registered.status === 'ACTIVE') return { accepted: true, stage: 'connect', account, certificateId, certificate: registered };
      if (registered.status === 'PENDING_ACTIVATION' && registered.caCertificateId) {
        this.publishRegistered(account, registered);
      }
      return { accepted: false, stage: 'connect', reason: `certificate-${registered.status.toLowerCase().replace(/_/g, '-')}`, certificateId };
    }
    if (!ca) return { accepted: false, stage: 'connect', reason: 'unknown-certificate', certificateId };
    if (ca.status !== 'ACTIVE') return { accepted: false, stage: 'connect', reason: 'ca-certificate-inactive', certificateId };
    if (ca.autoRegistrationStatus !== 'ENABLE') {
      return { accepted: false, stage: 'connect', reason: 'auto-registration-disabled', certificateId };
    }
    if (!this.traffic.allow(account.accountId, 'JITR registration', CERTIFICATE_REGISTRATIONS_PER_SECOND)) {
      return { accepted: false, stage: 'connect', reason: 'registration-throttled', certificateId };
    }
    const record = account.certificates.autoRegister(certificate, ca);
    this.publishRegistered(account, record);
    return { accepted: false, stage: 'connect', reason: 'certificate-pending-activation', certificateId, registered: true };
  }

  /** Both stages, for a device certificate chain in PEM (device certificate first, CA optional). */
  firstConnect(chainPem: string, serverName?: string): ConnectResult {
    let chain = this.parsedChains.get(chainPem);
    if (!chain) {
      try {
        chain = splitPemChain(chainPem);
      } catch {
        return { accepted: false, stage: 'tls', reason: 'bad-certificate' };
      }
      if (this.parsedChains.size >= 10_000) this.parsedChains.delete(this.parsedChains.keys().next().value!);
      this.parsedChains.set(chainPem, chain);
    }
    const handshake = this.verifyHandshake(chain, serverName);
    if (!handshake.ok) return { accepted: false, stage: 'tls', reason: handshake.reason };
    return this.connect(handshake);
  }

  private publishRegistered(account: IotAccount, certificate: DeviceCertificate): void {
    this.publish(account, `$aws/events/certificates/registered/${certificate.caCertificateId}`, registeredEventOf(account, certificate, this.now()));
  }
}

/** The registered event for a JITR-registered certificate (aws-iot-reference §1.3: timestamp in epoch ms, registration timestamp as a string). */
export function registeredEventOf(account: IotAccount, certificate: DeviceCertificate, at: Date = new Date()) {
  return {
    certificateId: certificate.certificateId,
    caCertificateId: certificate.caCertificateId!,
    timestamp: at.getTime(),
    certificateStatus: 'PENDING_ACTIVATION' as const,
    awsAccountId: account.accountId,
    certificateRegistrationTimestamp: String(certificate.creationDate.getTime()),
  };
}
