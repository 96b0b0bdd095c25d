'use strict';
/**
 * The AWS IoT policies devices use: the device policy (JITR, vending, fleet provisioning and the certificate
 * custom resource all attach it) and the claim policy (long-lived claim certificates of fleet provisioning).
 */

/**
 * The shared device policy: least privilege with policy variables. A device connects only as its own
 * thing (client id = thing name, certificate attached to the thing) and publishes/receives/subscribes only
 * under `device/<thing>/…`, its own shadow topics and its own Jobs topics; with the stack's role alias, it may trade its
 * certificate for that role's temporary credentials (aws-iot-reference §6).
 * `arnPrefix` is `arn:<partition>:iot:<region>:<account>`; `thingName` the policy variable as written.
 */
function devicePolicyDocument(arnPrefix, roleAlias, thingName = '${iot:Connection.Thing.ThingName}') {
  // The Jobs MQTT API of its own thing too (certificate rotation, docs/rotation-protocol.md): AWS's Jobs policy
  // examples grant `$aws/things/<thing>/jobs/*` (developer guide "Basic job policy example", https://docs.aws.amazon.com/iot/latest/developerguide/basic-jobs-example.html).
  const topics = [`device/${thingName}/*`, `$aws/things/${thingName}/shadow/*`, `$aws/things/${thingName}/jobs/*`];
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: 'iot:Connect',
        Resource: `${arnPrefix}:client/${thingName}`,
        Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
      },
      {
        Effect: 'Allow',
        Action: ['iot:Publish', 'iot:Receive'],
        Resource: topics.map((topic) => `${arnPrefix}:topic/${topic}`),
      },
      {
        Effect: 'Allow',
        Action: 'iot:Subscribe',
        Resource: topics.map((topic) => `${arnPrefix}:topicfilter/${topic}`),
      },
      ...(roleAlias ? [{ Effect: 'Allow', Action: 'iot:AssumeRoleWithCertificate', Resource: `${arnPrefix}:rolealias/${roleAlias}` }] : []),
    ],
  };
}

/**
 * For long-lived claim certificates (provisioning by claim): only the fleet-provisioning API of this
 * stack's template (aws-iot-reference §3.1). Claims vended by CreateProvisioningClaim need no policy.
 */
function claimPolicyDocument(arnPrefix, templateName) {
  const topics = ['$aws/certificates/create/*', '$aws/certificates/create-from-csr/*', `$aws/provisioning-templates/${templateName}/provision/*`];
  return {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: 'iot:Connect', Resource: `${arnPrefix}:client/*` },
      { Effect: 'Allow', Action: ['iot:Publish', 'iot:Receive'], Resource: topics.map((t) => `${arnPrefix}:topic/${t}`) },
      { Effect: 'Allow', Action: 'iot:Subscribe', Resource: topics.map((t) => `${arnPrefix}:topicfilter/${t}`) },
    ],
  };
}

/** Wraps every string of a JSON value in Fn::Sub, escaping IoT policy variables as `${!…}`. */
function subEveryString(value) {
  if (typeof value === 'string') {
    return value.includes('${') ? { 'Fn::Sub': value.replace(/\$\{iot:/g, '${!iot:') } : value;
  }
  if (Array.isArray(value)) return value.map(subEveryString);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, subEveryString(v)]));
  }
  return value;
}

function policyResources({ settings, names, IOT_ARN }) {
  return {
    Resources: {
      DevicePolicy: {
        Type: 'AWS::IoT::Policy',
        Properties: {
          PolicyName: settings.devicePolicyName,
          PolicyDocument: subEveryString(devicePolicyDocument(IOT_ARN, names.roleAlias)),
        },
      },
      ClaimPolicy: {
        Type: 'AWS::IoT::Policy',
        Properties: {
          PolicyName: names.claimPolicy,
          PolicyDocument: subEveryString(claimPolicyDocument(IOT_ARN, settings.fleetTemplateName)),
        },
      },
    },
    Outputs: {
      DevicePolicyName: { Value: settings.devicePolicyName },
      ClaimPolicyName: { Value: { Ref: 'ClaimPolicy' } },
    },
  };
}

module.exports = { policyResources, devicePolicyDocument, claimPolicyDocument, subEveryString };
