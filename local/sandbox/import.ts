import { X509Certificate } from 'node:crypto';
import { importRows } from '../../shared/registry/import-devices';
import { readImportRows } from '../../shared/registry/import-rows';
import { issueCertificate, type KeyedCertificate } from '../../lib/pki';
import { createDocumentClient } from '../../shared/aws/clients';
import type { LocalIotCore } from '../local-iot-core';
import type { SandboxRow } from './row';
import { connectJitr, type Endpoint } from './simulator';

/**
 * Factory onboarding (issue 11 §2): a factory file imported with `devices import`'s code pins the device's
 * public key; on its first connect the device with that key gets in, and a copied serial with another key
 * is revoked for `key-not-pinned`.
 */

export interface ImportContext {
  core: LocalIotCore;
  registryTable: string;
  /** The CA registered for JITR. */
  ca: KeyedCertificate;
  endpoint: Endpoint;
  log: (line: string) => void;
  describe: (certificateId: string | undefined) => Promise<{ status: string; thing: string }>;
}

const DEVICE = 'FACTORY-0001';

export async function runImportFlows(ctx: ImportContext): Promise<SandboxRow[]> {
  const { core, ca, log, describe } = ctx;
  const device = await issueCertificate(ca, { subject: { serialNumber: DEVICE } });
  const copy = await issueCertificate(ca, { subject: { serialNumber: DEVICE } });
  const publicKey = new X509Certificate(device.certificatePem).publicKey.export({ type: 'spki', format: 'pem' }).toString().trim();
  const csv = `deviceId,attr.line,publicKey\n${DEVICE},l7,"${publicKey}"\nFACTORY-0002,l7,\n`;

  log(`import: a factory file of 2 devices, ${DEVICE} with its public key, into ${ctx.registryTable}`);
  const client = createDocumentClient();
  const { rows: checked, invalid } = readImportRows(csv, 'csv');
  const summary = await importRows({ client, tableName: ctx.registryTable }, checked);
  client.destroy();

  const rows: SandboxRow[] = [
    {
      flow: 'factory',
      device: 'factory import (devices import)',
      deviceId: `${DEVICE}, FACTORY-0002`,
      outcome: `imported ${summary.imported.length}`,
      reason: `${invalid.length} invalid, 1 key pinned`,
      certificateStatus: '—',
      thing: '—',
      mqtt: '—',
      asExpected: summary.imported.length === 2 && invalid.length === 0,
    },
  ];

  const connect = async (certificate: KeyedCertificate, label: string, expected: { outcome: string; reason: string; status: string }) => {
    const result = await connectJitr(ctx, certificate, ca, DEVICE, 3);
    const decided = core.results.find((r) => (r.event as { certificateId?: string }).certificateId === certificate.certificateId)?.result as
      | { outcome?: string; reason?: string }
      | undefined;
    const outcome = decided?.outcome === 'rejected' ? 'revoked' : (decided?.outcome ?? 'pending');
    const reason = decided?.outcome === 'rejected' ? String(decided.reason) : 'admitted';
    const state = await describe(certificate.certificateId);
    rows.push({
      flow: 'factory',
      device: label,
      deviceId: DEVICE,
      outcome,
      reason,
      certificateStatus: state.status,
      thing: state.thing,
      mqtt: result.connected ? `in after ${result.attempts} attempts` : 'refused',
      asExpected: outcome === expected.outcome && reason === expected.reason && state.status === expected.status,
    });
  };
  log(`import: ${DEVICE} connects with the pinned key, then a copy of its serial with another key`);
  await connect(device, 'pinned key: the factory key', { outcome: 'activated', reason: 'admitted', status: 'ACTIVE' });
  await connect(copy, 'pinned key: copied serial, other key', { outcome: 'revoked', reason: 'key-not-pinned', status: 'REVOKED' });
  return rows;
}
