import {
  AddThingToThingGroupCommand,
  AttachThingPrincipalCommand,
  CreateThingCommand,
  DeleteThingCommand,
  DetachThingPrincipalCommand,
  ListPrincipalThingsCommand,
  ListThingGroupsForThingCommand,
  RemoveThingFromThingGroupCommand,
  type IoTClient,
} from '@aws-sdk/client-iot';
import type { ThingSpec } from '../../provisioning/iot-ports';
import { isNamed } from '../errors';

/** AWS IoT things, their groups and their certificates (`ThingDirectory`): one function per call. */

export async function createThing(client: IoTClient, thing: ThingSpec): Promise<'created' | 'exists'> {
  try {
    await client.send(
      new CreateThingCommand({ thingName: thing.thingName, thingTypeName: thing.thingTypeName, attributePayload: { attributes: thing.attributes } }),
    );
    return 'created';
  } catch (error) {
    // Same name with a different configuration (aws-iot-reference §4): the thing is there; keep it.
    if (isNamed(error, 'ResourceAlreadyExistsException')) return 'exists';
    throw error;
  }
}

export async function addThingToThingGroup(client: IoTClient, thingName: string, thingGroupName: string): Promise<void> {
  await client.send(new AddThingToThingGroupCommand({ thingName, thingGroupName }));
}

export async function attachThingPrincipal(client: IoTClient, thingName: string, certificateArn: string): Promise<void> {
  await client.send(new AttachThingPrincipalCommand({ thingName, principal: certificateArn, thingPrincipalType: 'EXCLUSIVE_THING' }));
}

export async function detachThingPrincipal(client: IoTClient, thingName: string, certificateArn: string): Promise<void> {
  await client.send(new DetachThingPrincipalCommand({ thingName, principal: certificateArn }));
}

export async function listPrincipalThings(client: IoTClient, certificateArn: string): Promise<string[]> {
  const things: string[] = [];
  let nextToken: string | undefined;
  do {
    const page = await client.send(new ListPrincipalThingsCommand({ principal: certificateArn, nextToken }));
    things.push(...(page.things ?? []));
    nextToken = page.nextToken;
  } while (nextToken);
  return things;
}

export async function removeThingFromThingGroup(client: IoTClient, thingName: string, thingGroupName: string): Promise<void> {
  await client.send(new RemoveThingFromThingGroupCommand({ thingName, thingGroupName }));
}

/** The thing's groups; `undefined` when the thing does not exist. */
export async function listThingGroupsForThing(client: IoTClient, thingName: string): Promise<string[] | undefined> {
  const groups: string[] = [];
  let nextToken: string | undefined;
  try {
    do {
      const page = await client.send(new ListThingGroupsForThingCommand({ thingName, nextToken }));
      groups.push(...(page.thingGroups ?? []).flatMap((g) => (g.groupName ? [g.groupName] : [])));
      nextToken = page.nextToken;
    } while (nextToken);
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
  return groups;
}

/**
 * Deletes the thing (a thing that does not exist counts as deleted, as AWS answers). AWS IoT refuses to
 * delete a thing that still has principals attached (InvalidRequestException), and a DetachThingPrincipal
 * takes seconds to propagate (aws-iot-reference §4): `'principals-attached'` lets the caller wait and retry.
 */
export async function deleteThing(client: IoTClient, thingName: string): Promise<'deleted' | 'principals-attached'> {
  try {
    await client.send(new DeleteThingCommand({ thingName }));
    return 'deleted';
  } catch (error) {
    if (isNamed(error, 'InvalidRequestException')) return 'principals-attached';
    if (isNamed(error, 'ResourceNotFoundException')) return 'deleted';
    throw error;
  }
}
