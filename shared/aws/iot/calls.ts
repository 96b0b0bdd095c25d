import type { IoTClient } from '@aws-sdk/client-iot';

type IotCall = (client: IoTClient, ...args: never[]) => Promise<unknown>;
type Bound<Calls extends Record<string, IotCall>> = {
  [Name in keyof Calls]: Calls[Name] extends (client: IoTClient, ...args: infer Args) => infer Result ? (...args: Args) => Result : never;
};

/**
 * A port made of exactly the IoT calls a function makes, each bound to the function's client:
 *
 *   const iot = iotCalls(createIotClient(), { describeCertificate, listPrincipalThings });
 *
 * A class's methods are never tree-shaken, so one adapter class put all its commands in every bundle. Built
 * from the functions a handler imports, the port brings only their commands into that handler's bundle —
 * and the handler's import list says which IoT calls the function makes (its role must grant those).
 */
export function iotCalls<Calls extends Record<string, IotCall>>(client: IoTClient, calls: Calls): Bound<Calls> {
  const port: Record<string, (...args: never[]) => Promise<unknown>> = {};
  for (const [name, call] of Object.entries(calls)) port[name] = (...args) => call(client, ...args);
  return port as Bound<Calls>;
}
