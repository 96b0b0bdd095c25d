/** One line of the table `npm start` prints: a flow, a device case, and what happened to it. */
export interface SandboxRow {
  flow: 'JITR' | 'fleet' | 'vending' | 'custom resource' | 'credentials' | 'factory' | 'lifecycle' | 'expiry' | 'why' | 'accounts' | 'rotation';
  device: string;
  deviceId: string;
  outcome: string;
  reason: string;
  certificateStatus: string;
  thing: string;
  mqtt: string;
  asExpected: boolean;
}

/** The rows as a fixed-width table, the last column saying whether each case went as expected. */
export function formatTable(rows: SandboxRow[]): string {
  const header = ['flow', 'device', 'device id', 'outcome', 'reason', 'certificate', 'thing', 'device side', ''];
  const body = rows.map((r) => [r.flow, r.device, r.deviceId, r.outcome, r.reason, r.certificateStatus, r.thing, r.mqtt, r.asExpected ? '✓' : '✗ unexpected']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}
