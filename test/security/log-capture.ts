/**
 * Captures what the handlers log while a test runs. The local IoT Core runs each function in worker
 * threads whose stdout and stderr are piped into this process's; Powertools writes one JSON object per
 * line. The capture keeps those lines (and lets anything else through), so a test can scan every line a
 * handler wrote for secrets.
 */
export interface LogCapture {
  /** Every JSON log line seen so far. */
  readonly lines: string[];
  /** Waits until the workers' pipes have delivered what was written (they flush asynchronously). */
  settle(): Promise<void>;
  stop(): void;
}

type Write = typeof process.stdout.write;

export function captureHandlerLogs(): LogCapture {
  const lines: string[] = [];
  const pending: Record<'stdout' | 'stderr', string> = { stdout: '', stderr: '' };
  const originals = { stdout: process.stdout.write, stderr: process.stderr.write };
  const intercept = (name: 'stdout' | 'stderr'): Write =>
    function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]): boolean {
      const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString('utf8');
      const parts = (pending[name] + text).split('\n');
      const last = parts.pop()!;
      // A line being written in pieces is kept until it ends only when it may be a JSON log line.
      pending[name] = last.startsWith('{') ? last : '';
      const passThrough: string[] = [];
      for (const line of parts) {
        if (line.startsWith('{') && line.includes('"level"')) lines.push(line);
        else passThrough.push(`${line}\n`);
      }
      if (!last.startsWith('{')) passThrough.push(last);
      const out = passThrough.join('');
      if (out) return (originals[name] as (...args: unknown[]) => boolean).call(this, out, ...rest);
      const callback = rest.find((arg) => typeof arg === 'function') as (() => void) | undefined;
      callback?.();
      return true;
    } as Write;
  process.stdout.write = intercept('stdout');
  process.stderr.write = intercept('stderr');
  return {
    lines,
    settle: () => new Promise((resolve) => setTimeout(resolve, 250)),
    stop() {
      process.stdout.write = originals.stdout;
      process.stderr.write = originals.stderr;
      for (const name of ['stdout', 'stderr'] as const) if (pending[name].startsWith('{')) lines.push(pending[name]);
    },
  };
}

/** The lines of a PEM block's base64 body (what a key "leaks" as, even without its BEGIN/END labels). */
export function pemBodyLines(pem: string): string[] {
  return pem
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('-----'));
}

/**
 * The secrets among `lines`: labelled private keys, lines of the given keys' bodies, the given ownership
 * tokens, and other bearer secrets (e.g. the signature of a presigned ResponseURL).
 */
export function findSecrets(
  lines: readonly string[],
  secrets: { privateKeys: readonly string[]; tokens: readonly string[]; bearer?: readonly string[] },
): string[] {
  const text = lines.join('\n');
  // JSON escapes newlines and slashes may be escaped too: compare against the unescaped text as well.
  const unescaped = text.replace(/\\n/g, '\n').replace(/\\\//g, '/');
  const found: string[] = [];
  if (/PRIVATE KEY/.test(unescaped)) found.push('a PEM "PRIVATE KEY" label');
  for (const [i, key] of secrets.privateKeys.entries()) {
    const body = pemBodyLines(key);
    // Each full 64-character line is specific to the key; the last, short one might be too generic.
    for (const line of body.filter((l) => l.length >= 40)) if (unescaped.includes(line)) found.push(`a line of private key #${i}`);
    if (unescaped.includes(body.join(''))) found.push(`the body of private key #${i}`);
  }
  for (const [i, token] of secrets.tokens.entries()) if (unescaped.includes(token)) found.push(`ownership token #${i}`);
  for (const [i, value] of (secrets.bearer ?? []).entries()) if (unescaped.includes(value)) found.push(`bearer secret #${i}`);
  return [...new Set(found)];
}
