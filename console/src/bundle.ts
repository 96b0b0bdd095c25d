import { strToU8, zipSync } from 'fflate';
import type { ConsoleConfig } from './config';

/**
 * The claim bundle a technician puts on the device: the claim certificate and key, the server CA, and the
 * exact commands that provision the device with them (mosquitto_rr, as seed 004 does, and our CLI). Built in
 * memory and handed to the browser as one download; nothing of it is stored.
 */

export interface Claim {
  certificateId: string;
  certificatePem: string;
  privateKey: string;
  expiration: string;
  templateName: string;
  endpoint: string;
  provisionTopic: string;
}

export const DEVICE_ID_PATTERN = /^[a-zA-Z0-9:_-]{1,128}$/;

export function bundleFiles(config: ConsoleConfig, claim: Claim, serial: string): Record<string, string> {
  const host = config.deviceEndpoint?.host ?? claim.endpoint;
  const port = config.deviceEndpoint?.port ?? 8883;
  const ca = config.serverCa.fileName;
  const mqtt = `--cert claim.pem.crt --key claim.private.key --cafile ${ca} -h "$ENDPOINT" -p "$PORT" -i "$SERIAL" --protocol-version mqttv311 -q 1`;
  const script = [
    '#!/bin/sh',
    `# Fleet provisioning of ${serial} with a claim certificate valid until ${claim.expiration}.`,
    '# Needs mosquitto_rr (mosquitto-clients) and jq. Writes device.pem.crt and device.private.key here.',
    'set -eu',
    'umask 077',
    `ENDPOINT='${host}'`,
    `PORT='${port}'`,
    `TEMPLATE='${claim.templateName}'`,
    `SERIAL='${serial}'`,
    `mosquitto_rr ${mqtt} -t '$aws/certificates/create/json' -m '{}' -e '$aws/certificates/create/json/accepted' > create.json`,
    'jq -r .certificatePem create.json > device.pem.crt',
    'jq -r .privateKey create.json > device.private.key',
    'TOKEN=$(jq -r .certificateOwnershipToken create.json)',
    'rm -f create.json',
    `mosquitto_rr ${mqtt} -t "\\$aws/provisioning-templates/$TEMPLATE/provision/json" \\`,
    '  -m "{\\"certificateOwnershipToken\\":\\"$TOKEN\\",\\"parameters\\":{\\"SerialNumber\\":\\"$SERIAL\\"}}" \\',
    '  -e "\\$aws/provisioning-templates/$TEMPLATE/provision/json/accepted" > provision.json',
    'cat provision.json',
    '',
  ].join('\n');
  const readme = [
    `Device ${serial}: provisioning claim ${claim.certificateId}`,
    `Valid until ${claim.expiration} (5 minutes from when it was vended).`,
    '',
    `Data endpoint: ${host}:${port}`,
    `Template: ${claim.templateName}`,
    `Provision topic: ${claim.provisionTopic}`,
    '',
    'With mosquitto_rr and jq:  sh provision.sh',
    `With our CLI:              npx iot-provisioner device provision --claim claim.pem.crt --claim-key claim.private.key --parameter SerialNumber=${serial} --template ${claim.templateName} --ca-file ${ca}`,
    '',
    'claim.private.key is the claim certificate\'s private key: it is in this bundle only. Delete the bundle once the device is provisioned.',
    '',
  ].join('\n');
  return {
    'claim.pem.crt': claim.certificatePem,
    'claim.private.key': claim.privateKey,
    [ca]: config.serverCa.pem,
    'provision.sh': script,
    'README.txt': readme,
  };
}

export function zipBundle(files: Record<string, string>): Uint8Array {
  return zipSync(Object.fromEntries(Object.entries(files).map(([name, text]) => [name, strToU8(text)])));
}
