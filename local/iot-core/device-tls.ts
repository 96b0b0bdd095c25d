import { X509Certificate } from 'node:crypto';
import { createSecureContext, type SecureContext, type TLSSocket, type TlsOptions } from 'node:tls';
import type { AwsIssuer } from './aws-issuer';
import type { DeviceGateway } from './device-gateway';
import type { IotAccount } from './registry/account';
import type { IotRegistry } from './registry/iot-registry';

/**
 * Mutual TLS as AWS IoT's device endpoints (MQTT and the credential provider) do it: the client certificate
 * must chain to a CA registered in the account the SNI names (or, without SNI, to a DEFAULT-mode CA), to
 * AWS's own issuer, or be registered itself; OpenSSL checks signatures and validity, so refusals are real TLS
 * alerts. The trust store follows the registry: it is rebuilt when CAs or certificates change.
 *
 * Every registered CA is a trust anchor on its own, root or not (OpenSSL's X509_V_FLAG_PARTIAL_CHAIN, which
 * Node exposes as `allowPartialTrustChain`): AWS IoT wants the CA that signed the device certificate
 * registered, "not any other CAs in the hierarchy" (developer guide, "Create your own client certificates",
 * https://docs.aws.amazon.com/iot/latest/developerguide/device-certs-your-own.html). So a device signed by a
 * registered intermediate gets through whether it sends its certificate alone or with the intermediate and
 * the root; what its chain carries beyond the registered CA is not needed. OpenSSL would also pass a device
 * signed by an unregistered intermediate of a registered root when the device sends that intermediate; the
 * device gateway refuses it next, still before any MQTT byte, because it wants the device certificate's own
 * issuer registered (`DeviceGateway.verifyHandshake`).
 */

export interface TlsMaterial {
  /** The server certificate and key (PEM), issued by the local root CA. */
  certificatePem: string;
  privateKeyPem: string;
}

/** What both device endpoints (MQTT and the credential provider) are built from. */
export interface DeviceEndpointOptions {
  registry: IotRegistry;
  gateway: DeviceGateway;
  issuer: AwsIssuer;
  tls: TlsMaterial;
  now?: () => Date;
}

export class DeviceTls {
  private readonly contexts = new Map<string, { revision: number; context: SecureContext }>();

  constructor(
    private readonly registry: IotRegistry,
    private readonly issuer: AwsIssuer,
    private readonly material: TlsMaterial,
  ) {}

  /** Options for tls.createServer / https.createServer. */
  serverOptions(): TlsOptions {
    return {
      key: this.material.privateKeyPem,
      cert: this.material.certificatePem,
      ca: this.trustStore(undefined),
      allowPartialTrustChain: true,
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
      SNICallback: (servername, callback) => callback(null, this.contextFor(servername)),
    };
  }

  /** The PEMs a client certificate may chain to, for one account (SNI) or for connections without SNI. */
  private trustStore(account: IotAccount | undefined): string[] {
    const accounts = account ? [account] : this.registry.allAccounts();
    return [this.issuer.caPem, ...accounts.flatMap((a) => a.certificates.trustAnchors(account !== undefined))];
  }

  private contextFor(servername: string): SecureContext {
    const account = this.registry.accountForServerName(servername);
    const key = account?.accountId ?? `unknown:${servername}`;
    const cached = this.contexts.get(key);
    if (cached && cached.revision === this.registry.revision) return cached.context;
    const context = createSecureContext({
      key: this.material.privateKeyPem,
      cert: this.material.certificatePem,
      ca: account ? this.trustStore(account) : [this.issuer.caPem],
      allowPartialTrustChain: true,
    });
    this.contexts.set(key, { revision: this.registry.revision, context });
    return context;
  }

  /** The certificate chain the client presented, device certificate first. */
  static peerChain(socket: TLSSocket): X509Certificate[] {
    const chain: X509Certificate[] = [];
    let peer = socket.getPeerCertificate(true);
    const seen = new Set<string>();
    while (peer?.raw && !seen.has(peer.fingerprint256)) {
      seen.add(peer.fingerprint256);
      chain.push(new X509Certificate(peer.raw));
      peer = peer.issuerCertificate;
    }
    return chain;
  }
}
