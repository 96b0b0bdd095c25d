import { AttachPolicyCommand, DetachPolicyCommand, ListAttachedPoliciesCommand, type IoTClient } from '@aws-sdk/client-iot';

/** AWS IoT policies on certificates (`PolicyDirectory`): one function per call. */

export async function attachPolicy(client: IoTClient, policyName: string, certificateArn: string): Promise<void> {
  await client.send(new AttachPolicyCommand({ policyName, target: certificateArn }));
}

export async function detachPolicy(client: IoTClient, policyName: string, certificateArn: string): Promise<void> {
  await client.send(new DetachPolicyCommand({ policyName, target: certificateArn }));
}

export async function listAttachedPolicies(client: IoTClient, certificateArn: string): Promise<string[]> {
  const names: string[] = [];
  let marker: string | undefined;
  do {
    const page = await client.send(new ListAttachedPoliciesCommand({ target: certificateArn, marker }));
    names.push(...(page.policies ?? []).flatMap((p) => (p.policyName ? [p.policyName] : [])));
    marker = page.nextMarker;
  } while (marker);
  return names;
}
