import type { ExpiryFinding } from '../expiry/ports';
import type { Log } from '../log';
import { ROTATION_JOB_PREFIX } from './model';
import { startRotation, type RotationStartDeps, type RotationStartResult } from './start';

/**
 * Auto-rotation (issue 14, the autoRotation stage parameter, off by default): the expiry sweep starts one
 * rotation job for the devices it found due. The job id follows from the sweep's scheduled time
 * (`rotate-auto-<yyyymmdd-hhmmss>`), so a retried sweep (Lambda retries the same event) finishes the same
 * start instead of starting a second one; devices already rotating are left out by the start itself.
 *
 * At most AUTO_ROTATION_MAX_DEVICES devices per sweep, the first in device order: the start paces its writes
 * (50 devices/s, two passes), so 2,000 devices take about 80 s of the sweep's 300 s timeout. The others stay
 * due and go in the next sweep's job.
 */

export const AUTO_ROTATION_MAX_DEVICES = 2_000;

export function autoRotationJobId(sweptAt: Date): string {
  const iso = sweptAt.toISOString();
  return `${ROTATION_JOB_PREFIX}auto-${iso.slice(0, 10).replace(/-/g, '')}-${iso.slice(11, 19).replace(/:/g, '')}`;
}

export async function autoRotate(deps: RotationStartDeps & { log: Log }, findings: readonly ExpiryFinding[], sweptAt: Date): Promise<RotationStartResult | undefined> {
  if (findings.length === 0) return undefined;
  const deviceIds = [...new Set(findings.map((f) => f.deviceId))].sort();
  const taken = deviceIds.slice(0, AUTO_ROTATION_MAX_DEVICES);
  const result = await startRotation(deps, { jobId: autoRotationJobId(sweptAt), deviceIds: taken });
  deps.log.info('auto-rotation', {
    jobId: result.jobId,
    job: result.job,
    queued: result.queued.length,
    leftOut: result.leftOut.length,
    deferred: deviceIds.length - taken.length,
    // Why, by reason: the operator's `rotate status` has the devices.
    leftOutReasons: Object.fromEntries([...new Set(result.leftOut.map((l) => l.reason))].map((r) => [r, result.leftOut.filter((l) => l.reason === r).length])),
  });
  return result;
}
