import { createPrivateKey, webcrypto, X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as x509 from '@peculiar/x509';
import { createCa, issueServerCertificate, type KeyedCertificate } from '../../lib/pki';
import type { TlsMaterial } from './device-tls';

/**
 * The local IoT Core's own root CA (it plays Amazon Root CA 1 for `--cafile`) and the server certificate
 * of its TLS endpoints. The root is kept in the state directory (.local/ for `npm run emulator`, never
 * committed) so that a device's `--cafile` stays valid across restarts; the server certificate is issued
 * at every start for localhost, 127.0.0.1, ::1 and the AWS-style endpoint names of the region.
 */

export interface LocalTls {
  rootCaFile: string;
  rootCaPem: string;
  server: TlsMaterial;
}

async function loadRoot(certificatePem: string, keyPem: string): Promise<KeyedCertificate> {
  const certificate = new x509.X509Certificate(certificatePem);
  const privateKey = await webcrypto.subtle.importKey(
    'pkcs8',
    createPrivateKey(keyPem).export({ type: 'pkcs8', format: 'der' }),
    { name: 'ECDSA', namedCurve: 'P-256' },
    true,
    ['sign'],
  );
  const publicKey = await certificate.publicKey.export();
  return {
    certificatePem,
    privateKeyPem: keyPem,
    certificateId: '',
    certificate,
    keys: { privateKey, publicKey: publicKey as unknown as webcrypto.CryptoKey },
    keySpec: 'ec-p256',
  };
}

export async function localTls(stateDir: string, region: string): Promise<LocalTls> {
  mkdirSync(stateDir, { recursive: true });
  const rootCaFile = join(stateDir, 'root-ca.pem');
  const rootKeyFile = join(stateDir, 'root-ca.key');
  let root: KeyedCertificate | undefined;
  if (existsSync(rootCaFile) && existsSync(rootKeyFile)) {
    const pem = readFileSync(rootCaFile, 'utf8');
    // Reuse the root while it has a year to go.
    if (new Date(new X509Certificate(pem).validTo).getTime() > Date.now() + 365 * 86_400_000) {
      root = await loadRoot(pem, readFileSync(rootKeyFile, 'utf8'));
    }
  }
  if (!root) {
    root = await createCa({ commonName: 'iot-provisioner local root CA', notAfter: new Date(Date.now() + 10 * 365 * 86_400_000) });
    writeFileSync(rootCaFile, root.certificatePem + '\n');
    writeFileSync(rootKeyFile, root.privateKeyPem, { mode: 0o600 });
  }
  const server = await issueServerCertificate(root, {
    dns: ['localhost', `*.iot.${region}.amazonaws.com`, `*.credentials.iot.${region}.amazonaws.com`],
    ip: ['127.0.0.1', '::1'],
  });
  return {
    rootCaFile,
    rootCaPem: root.certificatePem,
    server: { certificatePem: `${server.certificatePem}\n${root.certificatePem}\n`, privateKeyPem: server.privateKeyPem },
  };
}
