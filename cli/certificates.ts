import { bindCalls } from '../shared/aws/bind-calls';
import { createDocumentClient, createIotClient } from '../shared/aws/clients';
import { describeCertificate } from '../shared/aws/iot/certificates';
import { iotCalls } from '../shared/aws/iot/calls';
import { expiringBy, issuedBy } from '../shared/aws/registry/expiry-index';
import type { ExpiryFinding } from '../shared/expiry/ports';
import { dueCertificates, type SweepPolicy } from '../shared/expiry/sweep';
import { CliError, useTarget, type TargetOptions } from './target';

/**
 * `certificates expiring`: the bound certificates that expire within --days (default 30) or, with
 * --older-than, are at least that many days old — what the daily sweep would find, read from the
 * registry's sparse expiry indexes (one Query per shard, no scan), with the sweep's own rule.
 */

export interface CertificatesOptions extends TargetOptions {
  days?: string;
  olderThan?: string;
  json?: boolean;
}

const wholeDays = (flag: string, value: string | undefined, fallback: number): number => {
  if (value === undefined) return fallback;
  if (!/^\d{1,5}$/.test(value)) throw new CliError(`${flag} must be a whole number of days (0-99999), got "${value}"`);
  return Number(value);
};

export function findingsTable(findings: ExpiryFinding[]): string[] {
  const rows = [
    ['DEVICE', 'CERTIFICATE', 'NOT AFTER', 'AGE (DAYS)', 'ISSUER', 'DUE'],
    ...findings.map((f) => [
      f.deviceId,
      f.certificateId,
      f.notAfter.replace(/\.000Z$/, 'Z'),
      String(f.ageDays),
      `${f.issuer.subject || '(unknown)'}${f.issuer.awsIot ? ' (AWS IoT)' : ''}`,
      f.reasons.join(', '),
    ]),
  ];
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  return rows.map((row) => row.map((cell, column) => (column === row.length - 1 ? cell : cell.padEnd(widths[column]!))).join('  '));
}

export async function certificatesCommand(action: string | undefined, options: CertificatesOptions, out: (line: string) => void): Promise<number> {
  if (action !== 'expiring') throw new CliError('usage: certificates expiring [--days N] [--older-than M]');
  const policy: SweepPolicy = { expiringWithinDays: wholeDays('--days', options.days, 30), olderThanDays: wholeDays('--older-than', options.olderThan, 0) };
  const target = await useTarget(options);
  const index = bindCalls({ client: createDocumentClient(), tableName: target.registryTable }, { expiringBy, issuedBy });
  const findings = await dueCertificates(index, policy, new Date(), iotCalls(createIotClient(), { describeCertificate }));
  if (options.json) {
    out(JSON.stringify(findings, null, 2));
    return 0;
  }
  const within = policy.expiringWithinDays > 0 ? `expiring within ${policy.expiringWithinDays} days` : 'expired';
  const older = policy.olderThanDays > 0 ? ` or at least ${policy.olderThanDays} days old` : '';
  out(`${findings.length} bound certificate${findings.length === 1 ? '' : 's'} ${within}${older} in ${target.registryTable} (${target.description})`);
  if (findings.length > 0) for (const line of findingsTable(findings)) out(line);
  return 0;
}
