import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { X509Certificate, createHash } from 'node:crypto';
import { CliError } from './target';

/**
 * Files the CLI reads and writes: certificates and keys named as the seeds name them. Private keys are
 * written with mode 0600, never printed, and never overwritten without --force — a key overwritten is a
 * device identity lost.
 */

export interface OutputFile {
  path: string;
  content: string;
  /** A private key: mode 0600. */
  secret?: boolean;
  /** What the file is, for the summary line. */
  label: string;
}

export const outputPath = (dir: string | undefined, name: string) => resolve(dir ?? '.', name);

/** Refuses before any work is done when a file would be overwritten without --force. */
export function checkWritable(paths: string[], force: boolean | undefined): void {
  if (force) return;
  const existing = paths.filter((path) => existsSync(path));
  if (existing.length) {
    throw new CliError(`${existing.join(', ')} already exist${existing.length === 1 ? 's' : ''}; pass --force to overwrite (an overwritten private key is lost for good)`);
  }
}

export function writeOutputs(files: OutputFile[], force: boolean | undefined, out: (line: string) => void): void {
  checkWritable(files.map((f) => f.path), force);
  for (const file of files) {
    mkdirSync(dirname(file.path), { recursive: true });
    // 'wx' fails if the file appeared meanwhile: no silent overwrite even in a race.
    writeFileSync(file.path, file.content, { mode: file.secret ? 0o600 : 0o644, flag: force ? 'w' : 'wx' });
    // An overwritten file keeps its old mode; make sure a key ends up 0600.
    if (file.secret) chmodSync(file.path, 0o600);
  }
  const width = Math.max(...files.map((f) => f.label.length));
  for (const file of files) out(`  ${file.label.padEnd(width)}  ${file.path}${file.secret ? '  (mode 0600; keep it secret, never commit it)' : ''}`);
}

/** Reads a file the user named, with an error that says which option it came from. */
export function readInput(path: string, what: string, hint?: string): string {
  if (!existsSync(path)) throw new CliError(`${what} not found: ${path}${hint ? `\n${hint}` : ''}`);
  return readFileSync(path, 'utf8');
}

/** Reads a PEM certificate (or chain) file and checks it parses; `id` is AWS IoT's id for the first one. */
export function readCertificate(path: string, what: string, hint?: string): { pem: string; certificateId: string; certificate: X509Certificate } {
  const pem = readInput(path, what, hint);
  let certificate: X509Certificate;
  try {
    certificate = new X509Certificate(pem);
  } catch (error) {
    throw new CliError(`${what} ${path} is not a PEM certificate (${(error as Error).message})`);
  }
  return { pem, certificateId: certificateIdOf(certificate), certificate };
}

export function readPrivateKey(path: string, what: string, hint?: string): string {
  const pem = readInput(path, what, hint);
  if (/-{5}BEGIN ENCRYPTED PRIVATE KEY-{5}/.test(pem) || /Proc-Type: 4,ENCRYPTED/.test(pem)) {
    throw new CliError(`${what} ${path} is encrypted; devices use unencrypted keys (openssl pkey -in ${path} -out <new file>)`);
  }
  if (!/-{5}BEGIN (?:[A-Z]+ )?PRIVATE KEY-{5}/.test(pem)) throw new CliError(`${what} ${path} is not a PEM private key`);
  return pem;
}

/** AWS IoT's certificate id: the SHA-256 of the DER encoding (aws-iot-reference §0). */
export const certificateIdOf = (certificate: X509Certificate) => createHash('sha256').update(certificate.raw).digest('hex');
