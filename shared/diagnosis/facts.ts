/**
 * What `devices why` knows about a device when it diagnoses it: plain data, gathered by `gather-facts.ts`
 * through ports, so that `diagnose` (diagnose.ts) is a pure function of it.
 */

/**
 * The device's state in the registry. `allowed`/`blocked` are today's operator decisions; `provisioned`,
 * `suspended` and `retired` are the lifecycle states (issue 11 §1) — accepted here already, so a registry
 * that records them is diagnosed without a change to `diagnose`.
 */
export type DeviceState = 'allowed' | 'blocked' | 'provisioned' | 'suspended' | 'retired';

export interface RegistryFacts {
  deviceId: string;
  /** `undefined`: the registry has only seen the device (a refusal recorded before any operator decision). */
  state: DeviceState | undefined;
  certificateId?: string;
  bindingState?: 'claimed' | 'bound';
  thingName?: string;
}

/** One decision the backend took about the device, newest first in `DiagnosisFacts.decisions`. */
export interface Decision {
  at: string;
  /** `refused`: an admission refused a certificate; `provisioned`/`denied`: a fleet-provisioning decision. */
  kind: 'refused' | 'provisioned' | 'denied' | 'revoked' | (string & {});
  reason?: string;
  certificateId?: string;
}

/** Where the certificate under diagnosis came from. */
export type CertificateSource = 'registry' | 'refusal' | 'provisioning' | 'operator' | 'failure-queue';

/** The certificate as AWS IoT has it (DescribeCertificate, ListPrincipalThings, ListAttachedPolicies). */
export interface RegisteredCertificate {
  status: string;
  certificateArn: string;
  caCertificateId?: string;
  things: string[];
  policies: string[];
}

/** The certificate's validity, from its PEM (AWS IoT's copy, or the operator's file). */
export interface Validity {
  notBefore: string;
  notAfter: string;
}

/** A CA certificate of the account (DescribeCACertificate); `registered: false` when it is not registered. */
export type CaState =
  | { caCertificateId: string; registered: true; status: string | undefined; autoRegistrationStatus: string | undefined }
  | { caCertificateId: string; registered: false };

/** A message of the stack's failure queue that names the certificate. */
export interface FailureEvidence {
  /** What failed: the function, the rule, or the queue the message was dead-lettered from. */
  origin: string;
  /** The error the message carries, e.g. `ProvisionedThroughputExceededException: …`. */
  error: string;
  at?: string;
}

/** What the failure queue said: the messages about the certificate, or why it could not be read. */
export type FailureQueueFacts =
  | { read: true; scanned: number; messages: FailureEvidence[] }
  | { read: false; why: string };

/** One MQTT CONNECT of the certificate: the client id it gave and whether the broker let it in. */
export interface ConnectAttempt {
  at: string;
  clientId: string;
  outcome: 'connected' | 'refused';
  reason?: string;
}

/**
 * The certificate's recent connects, newest last, where the backend can see them (the local IoT Core
 * records each CONNECT; AWS IoT writes them to CloudWatch Logs only, when its logging is on).
 */
export type ConnectFacts = { observed: true; attempts: ConnectAttempt[] } | { observed: false; why: string };

export interface DiagnosisFacts {
  /** The device asked about; `undefined` when only a certificate was given. */
  deviceId: string | undefined;
  /** `undefined`: the registry has no record of the device. */
  registry: RegistryFacts | undefined;
  /** The last decisions about the device, newest first. */
  decisions: Decision[];
  /** The certificate under diagnosis and where it came from; absent when none is known. */
  certificate?: {
    certificateId: string;
    source: CertificateSource;
    /** `undefined`: AWS IoT has no certificate of that id. */
    registered: RegisteredCertificate | undefined;
    validity?: Validity;
  };
  /** The CA of the certificate, when known (AWS IoT's caCertificateId, or the CA in the operator's chain file). */
  ca?: CaState;
  failureQueue: FailureQueueFacts;
  connects: ConnectFacts;
  /** The thing name the device policy requires as MQTT client id (= device id). */
  expectedThingName: string | undefined;
  /** The device policy of the stage, which every device certificate needs attached. */
  devicePolicy: string;
  /** The iot:Data-ATS endpoint devices connect to (and give as SNI), when known. */
  dataEndpoint?: string;
  now: Date;
}
