import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import * as z from 'zod/mini';
import { keyRejection } from '../admission/admit';
import { keyFactsOf, publicKeySha256Of } from '../certificates/certificate-facts';
import { deviceAttributesSchema, deviceIdSchema } from './device-entry';
import { issuesOf, issuesText } from '../schemas/issues';
import '../schemas/zod';

/**
 * The rows of a factory file for `devices import`, read and checked before anything is written: CSV with a
 * header row, or NDJSON (one JSON object a line). A row names a device (`deviceId`) and, optionally, its thing
 * group, thing type, attributes and the public key recorded at the factory — as a PEM (`publicKey`: a public
 * key or a certificate) or as its fingerprint (`publicKeySha256`: the hex SHA-256 of the DER
 * SubjectPublicKeyInfo). CSV attributes are `attr.<name>` columns (an empty cell: no such attribute); NDJSON
 * has an `attributes` object. Ids, names and attributes follow the registry entry's rules
 * (`shared/registry/device-entry.ts`).
 */

export type ImportFormat = 'csv' | 'ndjson';

/** A device as the file declares it, checked. */
export interface ImportRow {
  line: number;
  deviceId: string;
  thingGroup?: string;
  thingType?: string;
  attributes?: Record<string, string>;
  pinnedKeySha256?: string;
}

export interface InvalidRow {
  line: number;
  message: string;
}

// JITR adds its own `provisionedBy` attribute, and a thing without a thing type has at most 3 (as `devices allow`).
const MAX_ATTRIBUTES_WITHOUT_TYPE = 2;
const thingName = z.string().check(z.regex(/^[a-zA-Z0-9:_-]{1,128}$/, 'must match [a-zA-Z0-9:_-]{1,128}'));
// Hex, upper or lower case, optionally with colons between the bytes (as `openssl dgst -c` prints it).
const FINGERPRINT = /^[0-9a-fA-F]{2}(:?[0-9a-fA-F]{2}){31}$/;

export const importRowSchema = z.strictObject({
  deviceId: deviceIdSchema,
  thingGroup: z.optional(thingName),
  thingType: z.optional(thingName),
  attributes: z.optional(deviceAttributesSchema),
  publicKey: z.optional(z.string()),
  publicKeySha256: z.optional(z.string().check(z.regex(FINGERPRINT, 'must be the 64 hex digits of a SHA-256'))),
});

const CSV_COLUMNS = new Set(['deviceId', 'thingGroup', 'thingType', 'publicKey', 'publicKeySha256']);
const ATTRIBUTE_COLUMN = 'attr.';

export class ImportFileError extends Error {
  override name = 'ImportFileError';
}

/** The key of a PEM public key or certificate; a private key is refused (it never belongs in a factory file). */
function keyOfPem(pem: string): KeyObject | string {
  if (/PRIVATE KEY/.test(pem)) return 'publicKey holds a private key: give the public key or the certificate (the private key stays on the device)';
  try {
    return /BEGIN CERTIFICATE/.test(pem) ? new X509Certificate(pem).publicKey : createPublicKey({ key: pem, format: 'pem' });
  } catch {
    return 'publicKey is neither a PEM public key nor a PEM certificate';
  }
}

/** One row's fields, checked: the row, or why it is invalid (never echoing a key). */
export function checkRow(line: number, fields: unknown): ImportRow | InvalidRow {
  const parsed = importRowSchema.safeParse(fields);
  if (!parsed.success) return { line, message: issuesText(issuesOf(parsed.error, { unknownKeysApart: true })) };
  const { deviceId, thingGroup, thingType, attributes, publicKey, publicKeySha256 } = parsed.data;
  if (publicKey !== undefined && publicKeySha256 !== undefined) return { line, message: 'give publicKey or publicKeySha256, not both' };
  if (!thingType && attributes && Object.keys(attributes).length > MAX_ATTRIBUTES_WITHOUT_TYPE) {
    return { line, message: `without a thingType a device can have at most ${MAX_ATTRIBUTES_WITHOUT_TYPE} attributes (AWS IoT allows 3, provisioning adds one)` };
  }
  let pinnedKeySha256: string | undefined;
  if (publicKey !== undefined) {
    const key = keyOfPem(publicKey);
    if (typeof key === 'string') return { line, message: key };
    // A key that admission would refuse anyway (RSA < 2048, other curves) is a factory mistake: say so now.
    const weak = keyRejection(keyFactsOf(key));
    if (weak) return { line, message: `publicKey: ${weak}` };
    pinnedKeySha256 = publicKeySha256Of(key);
  } else if (publicKeySha256 !== undefined) {
    pinnedKeySha256 = publicKeySha256.replaceAll(':', '').toLowerCase();
  }
  return {
    line,
    deviceId,
    ...(thingGroup ? { thingGroup } : {}),
    ...(thingType ? { thingType } : {}),
    ...(attributes && Object.keys(attributes).length > 0 ? { attributes } : {}),
    ...(pinnedKeySha256 ? { pinnedKeySha256 } : {}),
  };
}

/** RFC 4180 records with the line each starts on: quoted fields may hold commas, quotes ("") and line breaks. */
export function csvRecords(text: string): Array<{ line: number; cells: string[] }> {
  const records: Array<{ line: number; cells: string[] }> = [];
  let cells: string[] = [];
  let cell = '';
  let quoted = false;
  let line = 1;
  let start = 1;
  let touched = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else {
        if (c === '\n') line++;
        cell += c;
      }
      continue;
    }
    if (c === '"' && cell === '') {
      quoted = true;
      touched = true;
    } else if (c === ',') {
      cells.push(cell);
      cell = '';
      touched = true;
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      if (touched || cell !== '') records.push({ line: start, cells: [...cells, cell] });
      cells = [];
      cell = '';
      touched = false;
      line++;
      start = line;
    } else {
      cell += c;
      touched = true;
    }
  }
  if (quoted) throw new ImportFileError(`line ${start}: a quoted field is not closed`);
  if (touched || cell !== '') records.push({ line: start, cells: [...cells, cell] });
  return records;
}

function csvRows(text: string): Array<{ line: number; fields: unknown } | InvalidRow> {
  const [header, ...records] = csvRecords(text);
  if (!header) return [];
  const columns = header.cells.map((c) => c.trim());
  const unknown = columns.filter((c) => !CSV_COLUMNS.has(c) && !(c.startsWith(ATTRIBUTE_COLUMN) && c.length > ATTRIBUTE_COLUMN.length));
  if (unknown.length) throw new ImportFileError(`line ${header.line}: unknown column${unknown.length > 1 ? 's' : ''} ${unknown.map((c) => `"${c}"`).join(', ')} (columns: ${[...CSV_COLUMNS].join(', ')}, attr.<name>)`);
  if (!columns.includes('deviceId')) throw new ImportFileError(`line ${header.line}: the header has no deviceId column`);
  const duplicated = columns.filter((c, i) => columns.indexOf(c) !== i);
  if (duplicated.length) throw new ImportFileError(`line ${header.line}: column "${duplicated[0]}" appears twice`);
  return records.map(({ line, cells }) => {
    if (cells.length !== columns.length) return { line, message: `${cells.length} cells where the header has ${columns.length} columns` };
    const fields: Record<string, unknown> = {};
    const attributes: Record<string, string> = {};
    columns.forEach((column, i) => {
      const value = cells[i]!;
      if (value === '') return;
      if (column.startsWith(ATTRIBUTE_COLUMN)) attributes[column.slice(ATTRIBUTE_COLUMN.length)] = value;
      else fields[column] = value;
    });
    if (Object.keys(attributes).length) fields.attributes = attributes;
    return { line, fields };
  });
}

function ndjsonRows(text: string): Array<{ line: number; fields: unknown } | InvalidRow> {
  const rows: Array<{ line: number; fields: unknown } | InvalidRow> = [];
  text.split(/\r?\n/).forEach((source, i) => {
    if (source.trim() === '') return;
    try {
      rows.push({ line: i + 1, fields: JSON.parse(source) });
    } catch {
      rows.push({ line: i + 1, message: 'not a JSON object' });
    }
  });
  return rows;
}

/** The format a file name suggests (.csv, .ndjson, .jsonl), if any. */
export function formatOf(path: string): ImportFormat | undefined {
  if (/\.csv$/i.test(path)) return 'csv';
  if (/\.(ndjson|jsonl)$/i.test(path)) return 'ndjson';
  return undefined;
}

/**
 * Every row of the file, checked: the valid ones, and the invalid ones with their line numbers. A device id
 * on two lines is invalid on the later one (which profile is meant cannot be guessed).
 */
export function readImportRows(text: string, format: ImportFormat): { rows: ImportRow[]; invalid: InvalidRow[] } {
  const rows: ImportRow[] = [];
  const invalid: InvalidRow[] = [];
  const firstLine = new Map<string, number>();
  for (const raw of format === 'csv' ? csvRows(text) : ndjsonRows(text)) {
    const checked = 'message' in raw ? raw : checkRow(raw.line, raw.fields);
    if ('message' in checked) {
      invalid.push(checked);
      continue;
    }
    const seen = firstLine.get(checked.deviceId);
    if (seen !== undefined) {
      invalid.push({ line: checked.line, message: `device ${checked.deviceId} is already on line ${seen}` });
      continue;
    }
    firstLine.set(checked.deviceId, checked.line);
    rows.push(checked);
  }
  return { rows, invalid };
}
