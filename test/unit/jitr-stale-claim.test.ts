import { DescribeCACertificateCommand, DescribeCertificateCommand, IoTClient, ResourceNotFoundException, UpdateCertificateCommand } from '@aws-sdk/client-iot';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { createCa, issueCertificate, type KeyedCertificate } from '../../lib/pki';
import type { CertificateRegisteredEvent } from '../../shared/schemas/certificate-registered-event';
import { loadEvent } from '../support/fixtures';
import { arnOf, loadHandler } from '../support/handlers';

/**
 * Regression (issue 10): a device whose first certificate was claimed but never activated had every later
 * JITR certificate REVOKED as `device-already-bound` — REVOKED is terminal, so the device could never be
 * provisioned by JITR again. JITR now treats a claim as the hook does: one whose certificate is still
 * PENDING_ACTIVATION two minutes after it was claimed is abandoned, and the new certificate takes the device.
 *
 * Written against the handler only (no module of the redesign), so that it runs unchanged on the code
 * before the fix, where it fails.
 */

const iotMock = mockClient(IoTClient);
const ddbMock = mockClient(DynamoDBDocumentClient);
const MINUTE = 60_000;

let ca: KeyedCertificate;
let first: KeyedCertificate;
let second: KeyedCertificate;
let lambdaHandler: (event: unknown) => Promise<unknown>;

function givenCertificate(certificate: KeyedCertificate, status: string) {
  iotMock.on(DescribeCertificateCommand, { certificateId: certificate.certificateId }).resolves({
    certificateDescription: {
      certificateId: certificate.certificateId,
      certificateArn: arnOf(certificate.certificateId),
      caCertificateId: ca.certificateId,
      status: status as never,
      certificatePem: certificate.certificatePem,
    },
  });
}

/** The device is allowed, and claimed by the first certificate `ageMs` ago; that certificate is still pending. */
function givenAbandonedFirstClaim(ageMs: number) {
  givenCertificate(first, 'PENDING_ACTIVATION');
  givenCertificate(second, 'PENDING_ACTIVATION');
  ddbMock.on(GetCommand).resolves({
    Item: {
      deviceId: 'STALE-0001',
      status: 'allowed',
      certificateId: first.certificateId,
      bindingState: 'claimed',
      claimedAt: new Date(Date.now() - ageMs).toISOString(),
    },
  });
}

const eventFor = (certificate: KeyedCertificate): CertificateRegisteredEvent => ({
  ...loadEvent<CertificateRegisteredEvent>('certificate-registered'),
  certificateId: certificate.certificateId,
  caCertificateId: ca.certificateId,
});

beforeAll(async () => {
  ca = await createCa({ commonName: 'Stale Claim CA' });
  first = await issueCertificate(ca, { subject: { serialNumber: 'STALE-0001' } });
  second = await issueCertificate(ca, { subject: { serialNumber: 'STALE-0001' } });
  ({ lambdaHandler } = loadHandler<typeof import('../../functions/activate-certificate/handler')>('activateCertificate'));
});

beforeEach(() => {
  iotMock.reset();
  ddbMock.reset();
  iotMock.on(DescribeCACertificateCommand).resolves({ certificateDescription: { status: 'ACTIVE', autoRegistrationStatus: 'ENABLE' } });
  iotMock.on(DescribeCertificateCommand).rejects(new ResourceNotFoundException({ message: 'not found', $metadata: {} }));
  ddbMock.on(UpdateCommand).resolves({});
});

describe('JITR and a claim whose certificate never became ACTIVE', () => {
  it('activates a later certificate once the first certificate’s claim is abandoned (pending for over 2 minutes)', async () => {
    // Prepare
    givenAbandonedFirstClaim(10 * MINUTE);

    // Act
    const result = await lambdaHandler(eventFor(second));

    // Assess
    expect(result).toMatchObject({ outcome: 'activated', certificateId: second.certificateId, deviceId: 'STALE-0001' });
    expect(iotMock).not.toHaveReceivedCommandWith(UpdateCertificateCommand, { certificateId: second.certificateId, newStatus: 'REVOKED' });
    expect(iotMock).toHaveReceivedCommandWith(UpdateCertificateCommand, { certificateId: second.certificateId, newStatus: 'ACTIVE' });
    // The claim replaced exactly the abandoned one.
    expect(ddbMock).toHaveReceivedCommandWith(UpdateCommand, {
      ConditionExpression: 'certificateId = :previous',
      ExpressionAttributeValues: expect.objectContaining({ ':previous': first.certificateId }),
    });
  });

  it('still refuses a later certificate while the first claim is in flight (claimed 30 seconds ago)', async () => {
    givenAbandonedFirstClaim(MINUTE / 2);

    const result = await lambdaHandler(eventFor(second));

    expect(result).toMatchObject({ outcome: 'rejected', reason: 'device-already-bound', deviceId: 'STALE-0001' });
  });
});
