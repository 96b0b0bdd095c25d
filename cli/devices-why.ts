import { createDocumentClient, createIotClient, createLogsClient, createSqsClient } from '../shared/aws/clients';
import { DynamoDeviceRegistry } from '../shared/aws/device-registry';
import { describeCaCertificate, describeCertificate } from '../shared/aws/iot/certificates';
import { iotCalls } from '../shared/aws/iot/calls';
import { listAttachedPolicies } from '../shared/aws/iot/policies';
import { listPrincipalThings } from '../shared/aws/iot/things';
import type { Diagnosis } from '../shared/diagnosis/diagnose';
import { whyCannotConnect } from '../shared/diagnosis/why';
import { deviceIdSchema } from '../shared/registry/device-entry';
import { loadStack } from '../lib/stack';
import namesModule = require('../resources/names.cjs');
import { recentConnects } from '../shared/aws/iot-logs/connects';
import { localFailureQueue } from '../lib/local-failure-queue';
import { sqsFailureQueue } from './failure-queue';
import { timelineOf } from './timeline';
import { readCertificate } from './files';
import { IotOperator } from './iot-operator';
import { CliError, useTarget, type TargetOptions } from './target';

/**
 * `devices why <deviceId> [--certificate <id|file.pem>]`: why the device cannot connect — the registry
 * entry, its last decisions, the certificate in AWS IoT, its CA and the failure queue, joined into one
 * diagnosis (shared/diagnosis/diagnose.ts) with its fix and evidence.
 */

export interface WhyOptions extends TargetOptions {
  certificate?: string;
  failureQueueUrl?: string;
  json?: boolean;
}

const CERTIFICATE_ID = /^[0-9a-f]{64}$/i;

export function formatDiagnosis(diagnosis: Diagnosis): string {
  return [`diagnosis     ${diagnosis.code}`, `              ${diagnosis.sentence}`, `fix           ${diagnosis.fix}`, '', 'evidence', ...diagnosis.evidence.map((line) => `  ${line}`)].join('\n');
}

export async function devicesWhy(deviceId: string | undefined, options: WhyOptions, out: (line: string) => void): Promise<number> {
  if (deviceId === undefined && !options.certificate) throw new CliError('usage: devices why <deviceId> [--certificate <id|file.pem>] (a device id, a certificate, or both)');
  const id = deviceId === undefined ? undefined : deviceIdSchema.safeParse(deviceId);
  if (id && !id.success) throw new CliError(`a device id matching [a-zA-Z0-9:_-]{1,128} is required, got "${deviceId}"`);
  let certificate: { certificateId: string; pem?: string } | undefined;
  if (options.certificate) {
    // An id (the SHA-256 of the certificate's DER, as AWS IoT and lib/pki.ts compute it), or a PEM file.
    certificate = CERTIFICATE_ID.test(options.certificate)
      ? { certificateId: options.certificate.toLowerCase() }
      : (({ pem, certificateId }) => ({ pem, certificateId }))(readCertificate(options.certificate, '--certificate', 'pass a certificate id (64 hex digits) or a PEM file'));
  }
  if (options.failureQueueUrl && options.local) throw new CliError('--failure-queue-url is for AWS; with --local the failure queue is the local IoT Core\'s');

  const target = await useTarget(options);
  const stack = loadStack({ stage: target.stage });
  const names = namesModule.namesFor(stack.service, target.stage);
  const client = createIotClient();
  const logs = createLogsClient();
  try {
    const ports = {
      registry: new DynamoDeviceRegistry(createDocumentClient(), target.registryTable),
      timeline: timelineOf(target),
      iot: iotCalls(client, { describeCertificate, listPrincipalThings, listAttachedPolicies, describeCaCertificate }),
      failureQueue: target.local
        ? localFailureQueue(target.local)
        : sqsFailureQueue(createSqsClient(), {
            ...(options.failureQueueUrl ? { url: options.failureQueueUrl } : {}),
            namePrefix: namesModule.generatedName(stack.service, target.stage, 'ProvisioningFailureQueue'),
          }),
      // AWS IoT logs each CONNECT (client id, principalId = certificate id, status) to CloudWatch Logs when its
      // logging is on (developer guide, "CloudWatch Logs AWS IoT log entries", Connect); the local IoT Core
      // serves the same log group.
      connections: { recent: (certificateId: string) => recentConnects(logs, certificateId) },
    };
    const dataEndpoint = await new IotOperator(client).endpoint('iot:Data-ATS').catch(() => undefined);
    const { diagnosis, facts } = await whyCannotConnect(ports, {
      ...(id?.success ? { deviceId: id.data } : {}),
      ...(certificate ? { certificate } : {}),
      devicePolicy: stack.params.devicePolicyName || names.devicePolicy,
      ...(dataEndpoint ? { dataEndpoint } : {}),
      now: new Date(),
    });
    out(options.json ? JSON.stringify({ diagnosis, facts }, null, 2) : formatDiagnosis(diagnosis));
    // The command ran: whatever the diagnosis, it answered (exit 2 for a wrong command line, as everywhere).
    return 0;
  } finally {
    client.destroy();
    logs.destroy();
  }
}
