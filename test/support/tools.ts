import { execFileSync } from 'node:child_process';

/**
 * Whether a command-line tool the seeds use (openssl, aws, curl, mosquitto_*) is installed. On a developer's
 * machine a test that needs a missing tool skips, saying so. On CI (`CI=true`) a missing tool fails the run
 * instead: `.ci/run` installs every tool the tests use, so a skip there would hide tests that never ran.
 * Some tools exit non-zero on their probe (mosquitto's --help): only "not found" counts as missing.
 */
export function toolAvailable(command: string, probe: string[] = ['--version']): boolean {
  let found: boolean;
  try {
    execFileSync(command, probe, { stdio: 'ignore' });
    found = true;
  } catch (error) {
    found = (error as NodeJS.ErrnoException).code !== 'ENOENT' && (error as { status?: number }).status !== 127;
  }
  if (!found && process.env.CI === 'true') {
    throw new Error(`${command} is not installed, and CI=true runs every suite: .ci/run must install it (see .ci/run)`);
  }
  return found;
}
