'use strict';
/**
 * Fleet provisioning: the template devices call RegisterThing with, the role AWS IoT applies it with, and
 * the thing group and type it puts things in. Its pre-provisioning hook (and the hook's permission) is
 * declared beside the hook, in functions/pre-provisioning-hook/resources.cjs; the claims of trusted users
 * beside functions/vend-provisioning-claim/.
 */

/**
 * The fleet-provisioning template. The device sends only `SerialNumber` (the thing name); the
 * pre-provisioning hook overrides the group, the type and the attributes from the device registry.
 */
function fleetTemplateBody({ devicePolicyName, thingGroup, thingType, attributeNames }) {
  const attributeParameters = Object.fromEntries(attributeNames.map((name) => [`attr_${name}`, { Type: 'String', Default: '' }]));
  return {
    Parameters: {
      SerialNumber: { Type: 'String' },
      ThingGroupName: { Type: 'String', Default: thingGroup },
      ThingTypeName: { Type: 'String', Default: thingType },
      'AWS::IoT::Certificate::Id': { Type: 'String' },
      ...attributeParameters,
    },
    Resources: {
      thing: {
        Type: 'AWS::IoT::Thing',
        // A re-provisioned device keeps its thing; its type and attributes follow the registry.
        OverrideSettings: { AttributePayload: 'MERGE', ThingTypeName: 'REPLACE', ThingGroups: 'MERGE' },
        Properties: {
          ThingName: { Ref: 'SerialNumber' },
          ThingTypeName: { Ref: 'ThingTypeName' },
          ThingGroups: [{ Ref: 'ThingGroupName' }],
          AttributePayload: {
            provisionedBy: 'fleet-provisioning',
            ...Object.fromEntries(attributeNames.map((name) => [name, { Ref: `attr_${name}` }])),
          },
        },
      },
      certificate: {
        Type: 'AWS::IoT::Certificate',
        Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'ACTIVE' },
      },
      policy: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: devicePolicyName } },
    },
    DeviceConfiguration: {},
  };
}

/** The template's ARN (Fn::Sub): what the hook's permission and the claim role name. */
const fleetTemplateArn = (IOT_ARN, templateName) => ({ 'Fn::Sub': `${IOT_ARN}:provisioningtemplate/${templateName}` });

function fleetResources({ settings, names, IOT_ARN, IOT_SERVICE_TRUST, FUNCTIONS }) {
  const templateName = settings.fleetTemplateName;
  if (!/^[0-9A-Za-z_-]{1,36}$/.test(templateName)) {
    throw new Error(`fleetTemplateName: "${templateName}" must be 1-36 characters of [0-9A-Za-z_-]`);
  }
  for (const name of settings.fleetThingAttributes) {
    if (!/^[a-zA-Z0-9_-]{1,100}$/.test(name)) throw new Error(`fleetThingAttributes: "${name}" is not an attribute name`);
  }
  return {
    Resources: {
      FleetThingGroup: { Type: 'AWS::IoT::ThingGroup', Properties: { ThingGroupName: names.fleetThingGroup } },
      // Where `devices suspend` moves a device's thing (its groups are restored on resume).
      QuarantineThingGroup: {
        Type: 'AWS::IoT::ThingGroup',
        Properties: { ThingGroupName: names.quarantineThingGroup, ThingGroupProperties: { ThingGroupDescription: 'Suspended devices' } },
      },
      DeviceThingType: {
        Type: 'AWS::IoT::ThingType',
        Properties: { ThingTypeName: names.deviceThingType, ThingTypeProperties: { ThingTypeDescription: 'Devices provisioned by iot-provisioner' } },
      },
      ProvisioningRole: {
        Type: 'AWS::IAM::Role',
        Properties: {
          AssumeRolePolicyDocument: IOT_SERVICE_TRUST,
          ManagedPolicyArns: [{ 'Fn::Sub': 'arn:${AWS::Partition}:iam::aws:policy/service-role/AWSIoTThingsRegistration' }],
        },
      },
      FleetProvisioningTemplate: {
        Type: 'AWS::IoT::ProvisioningTemplate',
        // PreProvisioningHookPermission: functions/pre-provisioning-hook/resources.cjs.
        DependsOn: ['PreProvisioningHookPermission', 'DevicePolicy', 'FleetThingGroup', 'DeviceThingType'],
        Properties: {
          TemplateName: templateName,
          Description: 'Fleet provisioning: thing named by SerialNumber; group, type and attributes from the device registry',
          Enabled: true,
          TemplateType: 'FLEET_PROVISIONING',
          ProvisioningRoleArn: { 'Fn::GetAtt': ['ProvisioningRole', 'Arn'] },
          PreProvisioningHook: { TargetArn: { 'Fn::GetAtt': [FUNCTIONS.preProvisioningHook, 'Arn'] }, PayloadVersion: '2020-04-01' },
          TemplateBody: JSON.stringify(
            fleetTemplateBody({
              devicePolicyName: settings.devicePolicyName,
              thingGroup: names.fleetThingGroup,
              thingType: names.deviceThingType,
              attributeNames: settings.fleetThingAttributes,
            }),
          ),
        },
      },
    },
    Outputs: {
      FleetProvisioningTemplateName: { Value: templateName },
      QuarantineThingGroupName: { Value: names.quarantineThingGroup },
    },
  };
}

module.exports = { fleetResources, fleetTemplateBody, fleetTemplateArn };
