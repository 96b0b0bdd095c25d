import type { Decision, DiagnosisFacts } from './facts';

/**
 * "Why can't device X connect?" as one pure decision over the gathered facts (issue 11 §4): the first
 * cause, in the order a connection meets them — is there a certificate AWS IoT knows, is the device
 * allowed to hold it, is the certificate usable (status, validity, CA), was its registered event handled,
 * is it attached to its thing and the device policy — and, when the backend has nothing against it, what
 * the backend cannot see (the device's client id, endpoint and SNI).
 */

export type DiagnosisCode =
  | 'not-in-registry'
  | 'never-connected'
  | 'ca-not-registered'
  | 'ca-inactive'
  | 'ca-auto-registration-off'
  | 'suspended'
  | 'retired'
  | 'refused'
  | 'revoked'
  | 'inactive'
  | 'certificate-expired'
  | 'certificate-not-yet-valid'
  | 'event-failed'
  | 'event-not-handled'
  | 'thing-missing'
  | 'policy-missing'
  | 'certificate-status'
  | 'client-id-mismatch'
  | 'backend-in-order';

export interface Diagnosis {
  code: DiagnosisCode;
  /** What is wrong, in one plain sentence. */
  sentence: string;
  /** What to do about it. */
  fix: string;
  /** The facts the diagnosis rests on, one per line. */
  evidence: string[];
}

const short = (id: string) => `${id.slice(0, 12)}…`;

/** The facts, as the evidence lines every diagnosis carries. */
function evidenceOf(facts: DiagnosisFacts): string[] {
  const lines: string[] = [];
  const r = facts.registry;
  if (facts.deviceId) {
    lines.push(
      r
        ? `registry: ${r.deviceId} is ${r.state ?? 'not decided (neither allowed nor blocked)'}${r.certificateId ? `, certificate ${short(r.certificateId)} ${r.bindingState ?? ''}`.trimEnd() : ', no certificate bound'}`
        : `registry: no record of ${facts.deviceId}`,
    );
  }
  for (const d of facts.decisions.slice(0, 3)) {
    lines.push(`decision: ${d.kind}${d.reason ? ` (${d.reason})` : ''} at ${d.at}${d.certificateId ? `, certificate ${short(d.certificateId)}` : ''}`);
  }
  const c = facts.certificate;
  if (c) {
    const from = { registry: 'bound in the registry', refusal: 'named by the last refusal', provisioning: 'named by the last provisioning', operator: 'given with --certificate', 'failure-queue': 'found in the failure queue, its subject names the device' }[c.source];
    lines.push(
      c.registered
        ? `certificate: ${c.certificateId} (${from}) is ${c.registered.status} in AWS IoT; things: ${c.registered.things.join(', ') || 'none'}; policies: ${c.registered.policies.join(', ') || 'none'}`
        : `certificate: ${c.certificateId} (${from}) is not registered in AWS IoT`,
    );
    if (c.validity) lines.push(`validity: ${c.validity.notBefore} to ${c.validity.notAfter}`);
  } else {
    lines.push('certificate: none known (the registry names none, and no refusal names one)');
  }
  const ca = facts.ca;
  if (ca) {
    lines.push(ca.registered ? `CA: ${ca.caCertificateId} is ${ca.status ?? 'unknown'}, auto-registration ${ca.autoRegistrationStatus ?? 'unknown'}` : `CA: ${ca.caCertificateId} is not registered in this account`);
  }
  const q = facts.failureQueue;
  lines.push(
    q.read
      ? `failure queue: ${q.messages.length} of ${q.scanned} message(s) read name the certificate${q.messages.map((m) => `\n  ${m.origin}${m.at ? ` at ${m.at}` : ''}: ${m.error}`).join('')}`
      : `failure queue: not read (${q.why})`,
  );
  const connects = facts.connects;
  if (connects.observed) {
    const last = connects.attempts.slice(-3);
    lines.push(
      `connects: ${connects.attempts.length} seen${last.map((a) => `\n  ${a.at} client id ${a.clientId}: ${a.outcome}${a.reason ? ` (${a.reason})` : ''}`).join('')}`,
    );
  } else {
    lines.push(`connects: not observed (${connects.why})`);
  }
  return lines;
}

/** The refusal that explains a certificate's status: the newest decision refusing that certificate. */
const refusalOf = (decisions: Decision[], certificateId: string) =>
  decisions.find((d) => (d.kind === 'refused' || d.kind === 'denied') && d.certificateId === certificateId && d.reason);

function cause(facts: DiagnosisFacts): Omit<Diagnosis, 'evidence'> {
  const device = facts.deviceId ?? facts.expectedThingName ?? 'the device';
  const allow = facts.deviceId ? `iot-provisioner devices allow ${facts.deviceId}` : 'iot-provisioner devices allow <deviceId>';
  const state = facts.registry?.state;
  const c = facts.certificate;
  const ca = facts.ca;

  if (state === 'retired') {
    return {
      code: 'retired',
      sentence: `${device} is retired (decommissioned): its certificate was revoked and it may not connect.`,
      fix: `to refurbish it, allow it again (${allow}) and give it a new certificate.`,
    };
  }
  if (state === 'suspended') {
    return {
      code: 'suspended',
      sentence: `${device} is suspended by an operator: its certificate is INACTIVE and the thing is in quarantine.`,
      fix: `resume it (iot-provisioner devices resume ${facts.deviceId ?? '<deviceId>'}) when it may connect again.`,
    };
  }

  if (!c) {
    if (!facts.registry) {
      return {
        code: 'not-in-registry',
        sentence: `${device} is not in the registry and no certificate of it is known: it has never tried to connect, or connected with a certificate the backend never saw.`,
        fix: `allow it (${allow}); if it does try to connect, diagnose its certificate: iot-provisioner devices why ${facts.deviceId ?? '<deviceId>'} --certificate <device.crt or id>`,
      };
    }
    return {
      code: 'never-connected',
      sentence: `${device} has never connected: no certificate is registered for it${state === 'allowed' ? '' : `, and it is ${state ?? 'not allowed'}`}.`,
      fix: `${state === 'allowed' ? '' : `allow it (${allow}), then `}connect it once with its certificate and CA chain and SNI ${facts.dataEndpoint ?? '<iot:Data-ATS endpoint>'}; to check a certificate it has: --certificate <device.crt>.`,
    };
  }

  if (!c.registered) {
    const validity = validityProblem(facts);
    if (validity) return validity;
    if (ca && !ca.registered) {
      return {
        code: 'ca-not-registered',
        sentence: `AWS IoT never registered certificate ${c.certificateId}: its CA ${ca.caCertificateId} is not registered in this account.`,
        fix: 'register the CA with auto-registration: iot-provisioner ca register --mode sni-only (and add its id to the caCertificateIds stage parameter).',
      };
    }
    if (ca?.registered && ca.status !== 'ACTIVE') {
      return {
        code: 'ca-inactive',
        sentence: `AWS IoT never registered certificate ${c.certificateId}: its CA ${ca.caCertificateId} is ${ca.status ?? 'not ACTIVE'}.`,
        fix: `set the CA ACTIVE: aws iot update-ca-certificate --certificate-id ${ca.caCertificateId} --new-status ACTIVE`,
      };
    }
    if (ca?.registered && ca.autoRegistrationStatus !== 'ENABLE') {
      return {
        code: 'ca-auto-registration-off',
        sentence: `AWS IoT never registered certificate ${c.certificateId}: auto-registration is off for its CA ${ca.caCertificateId}, so JITR cannot start.`,
        fix: `turn it on: aws iot update-ca-certificate --certificate-id ${ca.caCertificateId} --new-auto-registration-status ENABLE`,
      };
    }
    return {
      code: 'never-connected',
      sentence: `${device} has never connected with certificate ${c.certificateId}: AWS IoT has not registered it.`,
      fix:
        'the device must present the certificate followed by its CA (the chain file) and send SNI on the first connect; ' +
        'the CA must be registered ACTIVE with auto-registration (iot-provisioner ca register). Pass the chain file with --certificate to check the CA.',
    };
  }

  const status = c.registered.status;
  if (status === 'REVOKED' || status === 'INACTIVE') {
    const refusal = refusalOf(facts.decisions, c.certificateId);
    if (refusal) {
      const allowFirst = refusal.reason === 'device-not-allowlisted' || refusal.reason === 'device-blocked' ? `allow the device (${allow}), then ` : '';
      return {
        code: 'refused',
        sentence: `the backend refused certificate ${c.certificateId} (${refusal.reason}) at ${refusal.at} and set it ${status}.`,
        fix: `${allowFirst}${status === 'REVOKED' ? 'give the device a new certificate (a revoked one stays revoked)' : `set it ACTIVE again (aws iot update-certificate --certificate-id ${c.certificateId} --new-status ACTIVE) or give the device a new certificate`}.`,
      };
    }
    return status === 'REVOKED'
      ? {
          code: 'revoked',
          sentence: `certificate ${c.certificateId} is REVOKED (no refusal of it is recorded: an operator or a rotation revoked it).`,
          fix: 'a revoked certificate stays revoked: give the device a new certificate (vend, or device issue, then connect).',
        }
      : {
          code: 'inactive',
          sentence: `certificate ${c.certificateId} is INACTIVE (no refusal of it is recorded: an operator deactivated it).`,
          fix: `set it ACTIVE again: aws iot update-certificate --certificate-id ${c.certificateId} --new-status ACTIVE`,
        };
  }

  const validity = validityProblem(facts);
  if (validity) return validity;

  if (status === 'PENDING_ACTIVATION') {
    const q = facts.failureQueue;
    if (q.read && q.messages.length) {
      const last = q.messages[q.messages.length - 1]!;
      return {
        code: 'event-failed',
        sentence: `certificate ${c.certificateId} is PENDING_ACTIVATION: its registered event reached ${last.origin}, which failed (${last.error}) and gave up.`,
        fix: 'fix the cause, then have the device connect again (AWS IoT publishes the registered event again) or replay the failure-queue message; the certificate stays PENDING_ACTIVATION until then.',
      };
    }
    return {
      code: 'event-not-handled',
      sentence: `certificate ${c.certificateId} is PENDING_ACTIVATION: its registered event has not been handled${q.read ? ', and the failure queue has no message about it' : ''}.`,
      fix: "check the stack's certificate-registered rule and the activate-certificate function's logs; the device's next connect publishes the event again.",
    };
  }

  if (status === 'ACTIVE') {
    const thing = facts.expectedThingName ?? facts.registry?.thingName;
    const things = c.registered.things;
    if (things.length === 0 || (thing && !things.includes(thing))) {
      return {
        code: 'thing-missing',
        sentence: `certificate ${c.certificateId} is ACTIVE but ${things.length ? `attached to ${things.join(', ')}, not to` : 'not attached to'} the thing ${thing ?? '(the device id)'}.`,
        fix: `attach it: aws iot attach-thing-principal --thing-name ${thing ?? '<deviceId>'} --principal ${c.registered.certificateArn}`,
      };
    }
    if (!c.registered.policies.includes(facts.devicePolicy)) {
      return {
        code: 'policy-missing',
        sentence: `certificate ${c.certificateId} is ACTIVE but the device policy ${facts.devicePolicy} is not attached to it, so every connect is denied.`,
        fix: `attach it: aws iot attach-policy --policy-name ${facts.devicePolicy} --target ${c.registered.certificateArn}`,
      };
    }
    const name = thing ?? things[0]!;
    const lastConnect = facts.connects.observed ? facts.connects.attempts.at(-1) : undefined;
    if (lastConnect?.outcome === 'refused' && lastConnect.clientId !== name) {
      return {
        code: 'client-id-mismatch',
        sentence: `the device connects with client id ${lastConnect.clientId}, but the device policy ${facts.devicePolicy} allows only client id = thing name ${name}: the broker refused it at ${lastConnect.at}.`,
        fix: `have the device connect with client id ${name}.`,
      };
    }
    if (lastConnect?.outcome === 'connected') {
      return {
        code: 'backend-in-order',
        sentence: `everything is in order on the backend, and the device connected as ${lastConnect.clientId} at ${lastConnect.at}.`,
        fix: `if it cannot connect now, look at the device's network and its TLS settings (${facts.dataEndpoint ?? 'the iot:Data-ATS endpoint'} port 8883, SNI) and whether it publishes under device/${name}/.`,
      };
    }
    return {
      code: 'backend-in-order',
      sentence: `everything is in order on the backend: certificate ${c.certificateId} is ACTIVE, attached to the thing ${name} and the policy ${facts.devicePolicy}.`,
      fix:
        `check the device connects with client id = ${name} (the device policy allows no other) to ${facts.dataEndpoint ?? 'the iot:Data-ATS endpoint'} port 8883 ` +
        `with SNI ${facts.dataEndpoint ?? 'of that endpoint'}, and publishes under device/${name}/.` +
        (facts.connects.observed
          ? ' AWS IoT logged no connect of this certificate recently: the device does not get as far as MQTT (network, endpoint, TLS).'
          : ` The backend cannot see its connects (${facts.connects.why}).`),
    };
  }

  return {
    code: 'certificate-status',
    sentence: `certificate ${c.certificateId} is ${status}, which AWS IoT does not let connect.`,
    fix: status === 'PENDING_TRANSFER' ? 'accept or cancel the transfer (aws iot accept-certificate-transfer / cancel-certificate-transfer).' : 'give the device a new certificate.',
  };
}

/** Expired or not yet valid: AWS IoT refuses such a certificate at the TLS handshake, whatever its status. */
function validityProblem(facts: DiagnosisFacts): Omit<Diagnosis, 'evidence'> | undefined {
  const c = facts.certificate;
  if (!c?.validity) return undefined;
  const now = facts.now.getTime();
  if (now > Date.parse(c.validity.notAfter)) {
    return {
      code: 'certificate-expired',
      sentence: `certificate ${c.certificateId} expired on ${c.validity.notAfter}.`,
      fix: 'give the device a new certificate (an expired one is refused at the TLS handshake).',
    };
  }
  if (now < Date.parse(c.validity.notBefore)) {
    return {
      code: 'certificate-not-yet-valid',
      sentence: `certificate ${c.certificateId} is not valid before ${c.validity.notBefore}.`,
      fix: "check the device's and the issuer's clocks, or issue the certificate with an earlier notBefore.",
    };
  }
  return undefined;
}

export function diagnose(facts: DiagnosisFacts): Diagnosis {
  return { ...cause(facts), evidence: evidenceOf(facts) };
}
