import { execFileSync } from 'node:child_process';

/**
 * Whether a command-line tool the seeds use (openssl, aws, curl, mosquitto_*) is installed. Tests that need
 * one skip, saying so, when it is not. Some tools exit non-zero on their probe (mosquitto's --help): only
 * "not found" counts as missing.
 */
export function toolAvailable(command: string, probe: string[] = ['--version']): boolean {
  try {
    execFileSync(command, probe, { stdio: 'ignore' });
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as { status?: number }).status !== 127;
  }
}
