import {
  CreateThingGroupCommand,
  DescribeCertificateCommand,
  DescribeEndpointCommand,
  IoTClient,
  ListPrincipalThingsCommand,
  RegisterCACertificateCommand,
} from '@aws-sdk/client-iot';
import { createDocumentClient } from '../shared/aws/clients';
import { DynamoDeviceRegistry } from '../shared/aws/device-registry';
import { LocalIotCore } from './local-iot-core';
import { createCa, deviceChain, issueCertificate, type KeyedCertificate, type KeySpec } from './pki';

/**
 * `npm start`: the JITR flow end to end, offline. A local IoT Core runs in this process with the stack of
 * serverless.yml deployed into it; a CA is registered in SNI_ONLY mode with auto-registration, some devices
 * are allow-listed, and devices covering each admission case make their first connect. The real
 * activateCertificate handler decides, through the real AWS SDK, and a table shows what happened.
 */

const DAY = 24 * 60 * 60 * 1000;

interface DeviceCase {
  label: string;
  subject: { commonName?: string; serialNumber?: string; organization?: string };
  keySpec?: KeySpec;
  notBefore?: Date;
  notAfter?: Date;
  issuer?: 'registered-ca' | 'unknown-ca';
  registry?: 'allow' | 'block';
  /** What must happen, for the sandbox's own check. */
  expect: { outcome: Outcome; reason?: string };
}

type Outcome = 'activated' | 'revoked' | 'refused at TLS';

export interface SandboxRow {
  device: string;
  deviceId: string;
  outcome: Outcome | 'pending' | 'unexpected';
  reason: string;
  certificateStatus: string;
  thing: string;
  reconnect: 'accepted' | 'refused';
  asExpected: boolean;
}

const cases = (): DeviceCase[] => [
  {
    label: 'valid, allow-listed',
    subject: { commonName: 'ValidDevice', serialNumber: 'SENSOR-0001' },
    registry: 'allow',
    expect: { outcome: 'activated' },
  },
  {
    label: 'valid, RSA-2048, id from CN',
    subject: { commonName: 'gateway-0002' },
    keySpec: 'rsa-2048',
    registry: 'allow',
    expect: { outcome: 'activated' },
  },
  {
    label: 'not allow-listed',
    subject: { commonName: 'Stranger', serialNumber: 'SENSOR-0003' },
    expect: { outcome: 'revoked', reason: 'device-not-allowlisted' },
  },
  {
    label: 'blocked',
    subject: { serialNumber: 'SENSOR-0004' },
    registry: 'block',
    expect: { outcome: 'revoked', reason: 'device-blocked' },
  },
  {
    label: 'expired',
    subject: { serialNumber: 'SENSOR-0005' },
    notBefore: new Date(Date.now() - 400 * DAY),
    notAfter: new Date(Date.now() - 35 * DAY),
    registry: 'allow',
    expect: { outcome: 'refused at TLS', reason: 'certificate-expired' },
  },
  {
    label: 'RSA-1024 key',
    subject: { serialNumber: 'SENSOR-0006' },
    keySpec: 'rsa-1024',
    registry: 'allow',
    expect: { outcome: 'revoked', reason: 'key-too-weak' },
  },
  {
    label: 'unknown CA',
    subject: { serialNumber: 'SENSOR-0007' },
    issuer: 'unknown-ca',
    registry: 'allow',
    expect: { outcome: 'refused at TLS', reason: 'unknown-certificate-authority' },
  },
  {
    label: 'no device id',
    subject: { organization: 'Acme Devices' },
    expect: { outcome: 'revoked', reason: 'device-id-missing' },
  },
];

export interface SandboxResult {
  rows: SandboxRow[];
  caCertificateId: string;
  failures: number;
  iotCalls: Record<string, number>;
}

export async function runSandbox(log: (line: string) => void = () => {}, logLevel = 'SILENT'): Promise<SandboxResult> {
  // AWS's control-plane quotas stay on; Lambda's one- and two-minute retry delays run 600× faster.
  const core = await LocalIotCore.start({ lambdaTimeScale: 600 });
  try {
    // Handler logs are JSON lines; LOG_LEVEL=INFO npm start shows them.
    const deployed = await core.deployStack({ environment: { POWERTOOLS_LOG_LEVEL: logLevel } });
    Object.assign(process.env, core.sdkEnvironment());
    log(`local IoT Core: control plane ${core.endpoints.iot}, DynamoDB ${core.endpoints.dynamodb}`);
    log(`deployed stack "${deployed.stack.service}-${deployed.stack.stage}": table ${deployed.tableName}, policy ${deployed.devicePolicyName}, rule on $aws/events/certificates/registered/+`);

    const iot = new IoTClient({});
    const registry = new DynamoDeviceRegistry(createDocumentClient(), deployed.tableName);

    const ca = await createCa({ commonName: 'MyDeviceRootCA' });
    const strangerCa = await createCa({ commonName: 'SomebodyElsesCA' });
    const { certificateId: caCertificateId } = await iot.send(
      new RegisterCACertificateCommand({
        caCertificate: ca.certificatePem,
        certificateMode: 'SNI_ONLY',
        setAsActive: true,
        allowAutoRegistration: true,
      }),
    );
    log(`registered CA ${caCertificateId} (SNI_ONLY, ACTIVE, auto-registration ENABLE)`);
    await iot.send(new CreateThingGroupCommand({ thingGroupName: 'sandbox-fleet' }));
    const { endpointAddress } = await iot.send(new DescribeEndpointCommand({ endpointType: 'iot:Data-ATS' }));

    const devices: Array<{ spec: DeviceCase; deviceId: string; certificate: KeyedCertificate; chain: string }> = [];
    for (const spec of cases()) {
      const issuer = spec.issuer === 'unknown-ca' ? strangerCa : ca;
      const certificate = await issueCertificate(issuer, {
        subject: spec.subject,
        ...(spec.keySpec ? { keySpec: spec.keySpec } : {}),
        ...(spec.notBefore ? { notBefore: spec.notBefore } : {}),
        ...(spec.notAfter ? { notAfter: spec.notAfter } : {}),
      });
      const deviceId = spec.subject.serialNumber ?? spec.subject.commonName ?? '—';
      if (spec.registry === 'allow') await registry.allow(deviceId, { thingGroup: 'sandbox-fleet' }, new Date());
      if (spec.registry === 'block') await registry.block(deviceId, new Date());
      devices.push({ spec, deviceId, certificate, chain: deviceChain(certificate, issuer) });
    }
    log(`allow-listed ${devices.filter((d) => d.spec.registry === 'allow').length} devices, blocked ${devices.filter((d) => d.spec.registry === 'block').length}; ${devices.length} devices connect for the first time…`);

    // First connects: as on AWS, a new certificate is registered PENDING_ACTIVATION and the device is
    // disconnected while the registered event goes to the rule and the handler.
    const first = devices.map((device) => core.firstConnect(device.chain, endpointAddress));
    await core.idle();

    const rows: SandboxRow[] = [];
    for (const [i, device] of devices.entries()) {
      const connect = first[i]!;
      // Devices retry with back-off until their certificate is active (seeds 000/001).
      const reconnect = core.firstConnect(device.chain, endpointAddress);
      let status = 'not registered';
      let thing = '—';
      const certificateId = connect.certificateId;
      if (certificateId && connect.stage === 'connect') {
        const { certificateDescription } = await iot.send(new DescribeCertificateCommand({ certificateId }));
        status = certificateDescription?.status ?? 'unknown';
        const { things } = await iot.send(new ListPrincipalThingsCommand({ principal: certificateDescription?.certificateArn }));
        thing = things?.join(', ') || '—';
      }
      const result = core.results.find(
        (r) => (r.event as { certificateId?: string }).certificateId === certificateId,
      )?.result as { outcome?: string; reason?: string } | undefined;
      let outcome: SandboxRow['outcome'];
      let reason: string;
      if (!connect.accepted && connect.stage === 'tls') {
        outcome = 'refused at TLS';
        reason = connect.reason;
      } else if (result?.outcome === 'activated') {
        outcome = 'activated';
        reason = 'admitted';
      } else if (result?.outcome === 'rejected') {
        outcome = 'revoked';
        reason = result.reason ?? '';
      } else {
        outcome = status === 'PENDING_ACTIVATION' ? 'pending' : 'unexpected';
        reason = result?.reason ?? (connect.accepted ? 'connected before activation' : connect.reason);
      }
      const expected = device.spec.expect;
      rows.push({
        device: device.spec.label,
        deviceId: device.deviceId,
        outcome,
        reason,
        certificateStatus: status,
        thing,
        reconnect: reconnect.accepted ? 'accepted' : 'refused',
        asExpected: outcome === expected.outcome && (!expected.reason || expected.reason === reason),
      });
    }
    iot.destroy();
    return { rows, caCertificateId: caCertificateId ?? '', failures: core.failures.length, iotCalls: { ...core.traffic.stats.calls } };
  } finally {
    await core.close();
  }
}

export function formatTable(rows: SandboxRow[]): string {
  const header = ['device', 'device id', 'outcome', 'reason', 'certificate status', 'thing', 'reconnect', ''];
  const body = rows.map((r) => [r.device, r.deviceId, r.outcome, r.reason, r.certificateStatus, r.thing, r.reconnect, r.asExpected ? '✓' : '✗ unexpected']);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(header), widths.map((w) => '─'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

if (require.main === module) {
  const started = Date.now();
  runSandbox((line) => console.log(line), process.env.LOG_LEVEL ?? 'SILENT')
    .then(({ rows, failures }) => {
      console.log(`\n${formatTable(rows)}\n`);
      const unexpected = rows.filter((r) => !r.asExpected).length;
      console.log(
        `${rows.length} devices, ${unexpected} unexpected, ${failures} events in the failure queue, ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
      process.exitCode = unexpected === 0 ? 0 : 1;
    })
    .catch((error: unknown) => {
      console.error('sandbox failed:', error);
      process.exitCode = 1;
    });
}
