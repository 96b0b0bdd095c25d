import { evaluateTemplate, TemplateError } from '../../local/iot-core/template-engine';

const CERT = 'c'.repeat(64);

describe('evaluateTemplate', () => {
  it('evaluates the seed 004 template: Fn::Join on a parameter, Status "Active", overrides', () => {
    const body = JSON.stringify({
      Parameters: { SerialNumber: { Type: 'String' }, 'AWS::IoT::Certificate::Id': { Type: 'String' } },
      Resources: {
        policy_p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'p' } },
        certificate: { Type: 'AWS::IoT::Certificate', Properties: { CertificateId: { Ref: 'AWS::IoT::Certificate::Id' }, Status: 'Active' } },
        thing: {
          Type: 'AWS::IoT::Thing',
          OverrideSettings: { AttributePayload: 'MERGE', ThingGroups: 'DO_NOTHING', ThingTypeName: 'REPLACE' },
          Properties: { AttributePayload: {}, ThingGroups: [], ThingName: { 'Fn::Join': ['', ['Fleet_Index_', { Ref: 'SerialNumber' }]] } },
        },
      },
    });
    const evaluated = evaluateTemplate(body, { SerialNumber: 'sampleSerialNumber', 'AWS::IoT::Certificate::Id': CERT });
    expect(evaluated.resources).toEqual([
      { type: 'policy', logicalName: 'policy_p', policyName: 'p' },
      { type: 'certificate', logicalName: 'certificate', certificateId: CERT, status: 'ACTIVE', overrides: {} },
      {
        type: 'thing',
        logicalName: 'thing',
        thingName: 'Fleet_Index_sampleSerialNumber',
        attributes: {},
        thingGroups: [],
        overrides: { AttributePayload: 'MERGE', ThingGroups: 'DO_NOTHING', ThingTypeName: 'REPLACE' },
      },
    ]);
  });

  it('applies defaults, Fn::Sub, Fn::Split + Fn::Select, Fn::FindInMap and DeviceConfiguration', () => {
    const body = JSON.stringify({
      Parameters: { Serial: { Type: 'String' }, Location: { Type: 'String', Default: 'WA' }, Pair: { Type: 'String' } },
      Mappings: { Regions: { WA: { Group: 'west' } } },
      Resources: {
        thing: {
          Type: 'AWS::IoT::Thing',
          Properties: {
            ThingName: { 'Fn::Sub': '${Location}-${Serial}' },
            ThingGroups: [{ 'Fn::FindInMap': ['Regions', { Ref: 'Location' }, 'Group'] }],
            AttributePayload: { second: { 'Fn::Select': [1, { 'Fn::Split': [':', { Ref: 'Pair' }] }] } },
          },
        },
      },
      DeviceConfiguration: { region: { Ref: 'Location' } },
    });
    const evaluated = evaluateTemplate(body, { Serial: '42', Pair: 'a:b' });
    expect(evaluated.resources[0]).toMatchObject({ thingName: 'WA-42', thingGroups: ['west'], attributes: { second: 'b' } });
    expect(evaluated.deviceConfiguration).toEqual({ region: 'WA' });
  });

  it.each([
    ['a parameter without value', { Resources: { t: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { Ref: 'Missing' } } } } }, /Missing has no value/],
    ['Fn::Select out of range', { Parameters: { P: { Type: 'String' } }, Resources: { t: { Type: 'AWS::IoT::Thing', Properties: { ThingName: { 'Fn::Select': [5, { 'Fn::Split': [',', { Ref: 'P' }] }] } } } } }, /out of range/],
    ['a certificate by PEM', { Resources: { c: { Type: 'AWS::IoT::Certificate', Properties: { CertificatePem: 'x' } } } }, /CertificateId/],
    ['a policy with both name and document', { Resources: { p: { Type: 'AWS::IoT::Policy', Properties: { PolicyName: 'a', PolicyDocument: {} } } } }, /exactly one/],
    ['an unknown resource type', { Resources: { q: { Type: 'AWS::SQS::Queue', Properties: {} } } }, /unsupported resource type/],
    ['an unknown override', { Resources: { t: { Type: 'AWS::IoT::Thing', OverrideSettings: { AttributePayload: 'SOMETIMES' }, Properties: { ThingName: 'x' } } } }, /OverrideSettings/],
  ])('refuses %s with a TemplateError', (_, template, message) => {
    expect(() => evaluateTemplate(JSON.stringify(template), { P: 'a,b' })).toThrow(TemplateError);
    expect(() => evaluateTemplate(JSON.stringify(template), { P: 'a,b' })).toThrow(message);
  });

  it('refuses a body that is not JSON', () => {
    expect(() => evaluateTemplate('{', {})).toThrow(TemplateError);
  });

  it('evaluates the stack’s fleet template with the hook’s overrides', () => {
    const { fleetTemplateBody } = require('../../resources/stack.cjs');
    const body = JSON.stringify(fleetTemplateBody({ devicePolicyName: 'dp', thingGroup: 'fleet', thingType: 'device', attributeNames: ['site'] }));
    const evaluated = evaluateTemplate(body, { SerialNumber: 'FLEET-1', ThingGroupName: 'g2', attr_site: 'osaka', 'AWS::IoT::Certificate::Id': CERT });
    expect(evaluated.resources.find((r) => r.type === 'thing')).toMatchObject({
      thingName: 'FLEET-1',
      thingTypeName: 'device',
      thingGroups: ['g2'],
      attributes: { provisionedBy: 'fleet-provisioning', site: 'osaka' },
    });
  });
});
