import {
  DescribeCACertificateCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  GetRegistrationCodeCommand,
  RegisterCACertificateCommand,
  UpdateCACertificateCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';

/**
 * The operator CLI's only code that builds AWS IoT commands: CA registration and the few reads the device
 * commands use to find endpoints and explain a refusal. The handlers' port (shared/aws/iot-directory.ts)
 * has no CA registration, which is an operator's act, not a provisioning workflow's.
 */

export type CaMode = 'SNI_ONLY' | 'DEFAULT';

export interface CaState {
  certificateId: string;
  certificateArn: string;
  status: string;
  autoRegistrationStatus: string;
  certificateMode: string;
}

const isNotFound = (error: unknown) => (error as Error).name === 'ResourceNotFoundException';

export class IotOperator {
  constructor(private readonly iot: IoTClient) {}

  async registrationCode(): Promise<string> {
    const { registrationCode } = await this.iot.send(new GetRegistrationCodeCommand({}));
    if (!registrationCode) throw new Error('GetRegistrationCode answered without a code');
    return registrationCode;
  }

  /** Registers ACTIVE with auto-registration on (aws-iot-reference §1.1): one call, nothing left to update. */
  async registerCa(input: { caCertificatePem: string; mode: CaMode; verificationCertificatePem?: string }): Promise<{ certificateId: string; certificateArn: string }> {
    const answer = await this.iot.send(
      new RegisterCACertificateCommand({
        caCertificate: input.caCertificatePem,
        certificateMode: input.mode,
        ...(input.verificationCertificatePem ? { verificationCertificate: input.verificationCertificatePem } : {}),
        setAsActive: true,
        allowAutoRegistration: true,
      }),
    );
    return { certificateId: answer.certificateId!, certificateArn: answer.certificateArn! };
  }

  async describeCa(certificateId: string): Promise<CaState | undefined> {
    try {
      const { certificateDescription: d } = await this.iot.send(new DescribeCACertificateCommand({ certificateId }));
      return {
        certificateId,
        certificateArn: d?.certificateArn ?? '',
        status: d?.status ?? 'unknown',
        autoRegistrationStatus: d?.autoRegistrationStatus ?? 'unknown',
        certificateMode: d?.certificateMode ?? 'DEFAULT',
      };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
  }

  /** Sets a registered CA ACTIVE with auto-registration ENABLE, as seed 001 does with two update calls. */
  async enableCa(certificateId: string, change: { activate: boolean; enableAutoRegistration: boolean }): Promise<void> {
    if (!change.activate && !change.enableAutoRegistration) return;
    await this.iot.send(
      new UpdateCACertificateCommand({
        certificateId,
        ...(change.activate ? { newStatus: 'ACTIVE' } : {}),
        ...(change.enableAutoRegistration ? { newAutoRegistrationStatus: 'ENABLE' } : {}),
      }),
    );
  }

  async endpoint(endpointType: 'iot:Data-ATS' | 'iot:CredentialProvider'): Promise<string> {
    const { endpointAddress } = await this.iot.send(new DescribeEndpointCommand({ endpointType }));
    if (!endpointAddress) throw new Error(`DescribeEndpoint ${endpointType} answered without an address`);
    return endpointAddress;
  }

  /** The certificate's status, or 'NOT_REGISTERED'. */
  async certificateStatus(certificateId: string): Promise<string> {
    try {
      const { certificateDescription } = await this.iot.send(new DescribeCertificateCommand({ certificateId }));
      return certificateDescription?.status ?? 'unknown';
    } catch (error) {
      if (isNotFound(error)) return 'NOT_REGISTERED';
      throw error;
    }
  }
}
