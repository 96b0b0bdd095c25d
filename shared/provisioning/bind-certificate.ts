import type { DeviceEntry } from '../registry/device-entry';
import type { IotDirectory, ThingSpec } from './iot-ports';

/** The IoT calls retiring a certificate makes. */
export type RetiringIot = Pick<IotDirectory, 'describeCertificate' | 'listPrincipalThings' | 'detachThingPrincipal' | 'updateCertificateStatus'>;

/** The IoT calls binding a certificate makes (retiring the previous one included). */
export type BindingIot = RetiringIot & Pick<IotDirectory, 'createThing' | 'addThingToThingGroup' | 'attachPolicy' | 'attachThingPrincipal'>;
import { readBoundCertificateFacts, type BoundCertificateFacts } from '../certificates/certificate-facts';
import type { Log } from '../log';
import type { DeviceRegistry } from '../registry/ports';

/**
 * Making a certificate a device's identity — shared by JITR and certificate vending: claim the device in
 * the registry (so no other certificate can), create its thing, put it in its group, attach the device
 * policy, attach the certificate exclusively, activate it **last**, then record the binding. Every step
 * tolerates being done already, so a retry converges.
 */

export interface BindSettings {
  devicePolicyName: string;
  thingGroup?: string;
  thingType?: string;
}

export interface BindDeps {
  iot: BindingIot;
  registry: Pick<DeviceRegistry, 'get' | 'claim' | 'markBound'>;
  settings: BindSettings;
  now: () => Date;
  log: Log;
}

/** Another certificate changed the device's binding while we decided; the retry decides again. */
export class BindingConflictError extends Error {
  override name = 'BindingConflictError';
}

export function thingFor(deviceId: string, entry: DeviceEntry | undefined, settings: BindSettings, provisionedBy: string): ThingSpec {
  const thingTypeName = entry?.thingType ?? settings.thingType;
  return {
    thingName: deviceId,
    ...(thingTypeName ? { thingTypeName } : {}),
    // Registry attributes first so ours cannot be overridden. Without a thing type AWS allows 3 attributes.
    attributes: { ...entry?.attributes, provisionedBy },
  };
}

/** Claims the device for the certificate unless it already holds it; a lost race throws BindingConflictError. */
export async function claimDevice(
  deps: Pick<BindDeps, 'registry' | 'now'>,
  input: { deviceId: string; entry: DeviceEntry | undefined; certificateId: string; previousCertificateId?: string },
): Promise<void> {
  if (input.entry?.certificateId === input.certificateId) return;
  const claim = await deps.registry.claim(input.deviceId, input.certificateId, {
    ...(input.previousCertificateId ? { previousCertificateId: input.previousCertificateId } : {}),
    at: deps.now(),
  });
  if (!claim.claimed) {
    throw new BindingConflictError(`device ${input.deviceId} was claimed by certificate ${claim.current?.certificateId ?? '(none)'} meanwhile`);
  }
}

export async function bindCertificate(
  input: {
    deviceId: string;
    entry: DeviceEntry | undefined;
    certificateId: string;
    certificateArn: string;
    previousCertificateId?: string;
    /** Detach and deactivate the previous certificate once the new one is active. */
    retirePrevious: boolean;
    provisionedBy: string;
    /** The certificate itself: its validity and issuer go into the registry with the binding. */
    certificatePem: string;
    issuedByAwsIot: boolean;
  },
  deps: BindDeps,
): Promise<{ thingName: string; retiredCertificateId?: string }> {
  const { iot, registry, settings, log } = deps;
  const { deviceId, entry, certificateId, certificateArn, previousCertificateId } = input;
  await claimDevice(deps, input);

  const thing = thingFor(deviceId, entry, settings, input.provisionedBy);
  const created = await iot.createThing(thing);
  log.debug('thing ready', { thingName: thing.thingName, created });
  const thingGroup = entry?.thingGroup ?? settings.thingGroup;
  if (thingGroup) await iot.addThingToThingGroup(thing.thingName, thingGroup);
  await iot.attachPolicy(settings.devicePolicyName, certificateArn);
  await iot.attachThingPrincipal(thing.thingName, certificateArn);
  await iot.updateCertificateStatus(certificateId, 'ACTIVE');

  let retiredCertificateId: string | undefined;
  if (input.retirePrevious && previousCertificateId) {
    // The old certificate leaves the thing only once the new one can connect.
    await retireCertificate(previousCertificateId, thing.thingName, deps);
    retiredCertificateId = previousCertificateId;
  }
  await registry.markBound(deviceId, certificateId, thing.thingName, deps.now(), boundFacts(input.certificatePem, input.issuedByAwsIot, log));
  return { thingName: thing.thingName, ...(retiredCertificateId ? { retiredCertificateId } : {}) };
}

/** Detaches a certificate from the thing and deactivates it (INACTIVE, so an operator can still look at it). */
export async function retireCertificate(certificateId: string, thingName: string, deps: { iot: RetiringIot }): Promise<void> {
  const old = await deps.iot.describeCertificate(certificateId);
  if (!old) return;
  const things = await deps.iot.listPrincipalThings(old.certificateArn);
  if (things.includes(thingName)) await deps.iot.detachThingPrincipal(thingName, old.certificateArn);
  if (old.status === 'ACTIVE') await deps.iot.updateCertificateStatus(certificateId, 'INACTIVE');
}

/**
 * The certificate facts the binding records. The flows admitted the certificate from this very PEM, so it
 * reads; should it not, the binding is still recorded (the device works) and only its expiry tracking is lost.
 */
export function boundFacts(pem: string, issuedByAwsIot: boolean, log: Log): BoundCertificateFacts | undefined {
  try {
    return readBoundCertificateFacts(pem, issuedByAwsIot);
  } catch (error) {
    log.warn('bound certificate facts unreadable; expiry not tracked', { error: (error as Error).message });
    return undefined;
  }
}
