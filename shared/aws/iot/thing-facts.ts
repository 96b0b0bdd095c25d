import { DescribeThingCommand, type IoTClient } from '@aws-sdk/client-iot';
import { isNamed } from '../errors';

/** A thing as the console's device page reads it (its own module: only that function calls DescribeThing). */

/** What the console's device page shows of a thing. */
export interface ThingFacts {
  thingName: string;
  thingArn?: string;
  thingTypeName?: string;
  attributes: Record<string, string>;
  version?: number;
}

/** The thing; `undefined` when it does not exist. */
export async function describeThing(client: IoTClient, thingName: string): Promise<ThingFacts | undefined> {
  try {
    const answer = await client.send(new DescribeThingCommand({ thingName }));
    return {
      thingName: answer.thingName ?? thingName,
      ...(answer.thingArn ? { thingArn: answer.thingArn } : {}),
      ...(answer.thingTypeName ? { thingTypeName: answer.thingTypeName } : {}),
      attributes: answer.attributes ?? {},
      ...(answer.version !== undefined ? { version: answer.version } : {}),
    };
  } catch (error) {
    if (isNamed(error, 'ResourceNotFoundException')) return undefined;
    throw error;
  }
}
