/** Key material of a vended certificate, as files under `<thingName>/` (`shared/aws/certificate-store.ts`). */
export interface CertificateMaterial {
  certificateId: string;
  certificatePem: string;
  publicKey: string;
  privateKey: string;
}

/** An object under `<thingName>/` and what wrote it. */
export interface StoredObject {
  /** Which part of the material it holds; absent for any other object under the prefix. */
  part?: 'certificatePem' | 'publicKey' | 'privateKey';
  certificateId?: string;
  /** The CloudFormation request that wrote it. */
  requestId?: string;
}

export interface CertificateStore {
  /** Where a thing's objects are: the bucket and the `<thingName>/` prefix. */
  locationOf(thingName: string): { bucket: string; prefix: string };
  /**
   * Writes (or overwrites) the certificate and both keys, each marked with the certificate id and the
   * request that wrote it; settles only once every write has (none is left in flight on failure).
   */
  put(thingName: string, material: CertificateMaterial, requestId: string): Promise<void>;
  /** The objects under `<thingName>/` with their marks; nothing there is an empty list. */
  inspect(thingName: string): Promise<StoredObject[]>;
  /**
   * Removes the objects under `<thingName>/` that belong to `certificateId`; objects another certificate
   * wrote there since (a replacement for the same thing) are left alone. Nothing there counts as done.
   */
  remove(thingName: string, certificateId: string): Promise<{ removed: number; kept: number }>;
  /**
   * Before a Delete removes a certificate: records, for each request whose objects name it, that the
   * certificate it made is deleted — so that a late retry of that request makes no new one. Idempotent.
   */
  markDeleted(thingName: string, certificateId: string): Promise<void>;
  /** The certificate a request made, if a Delete has removed it since (`markDeleted`). */
  deletedFor(thingName: string, requestId: string): Promise<string | undefined>;
}
