import type { IoTClient } from '@aws-sdk/client-iot';
import { bindCalls, type Bound } from '../bind-calls';

type IotCall = (client: IoTClient, ...args: never[]) => Promise<unknown>;

/**
 * A port made of exactly the IoT calls a function makes, each bound to the function's client:
 *
 *   const iot = iotCalls(createIotClient(), { describeCertificate, listPrincipalThings });
 *
 * Built from the functions a handler imports, the port brings only their commands into that handler's bundle
 * (`../bind-calls.ts` says why), and the handler's import list says which IoT calls its role must grant.
 */
export const iotCalls = <Calls extends Record<string, IotCall>>(client: IoTClient, calls: Calls): Bound<IoTClient, Calls> => bindCalls(client, calls);
