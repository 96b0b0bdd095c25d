'use strict';
/**
 * What the functions' roles share: the role builder (a function's own log group, plus its statements), the
 * statements of the shared binding workflow, and the trust of the roles AWS IoT assumes. Each function's
 * statements are declared beside it, in functions/<name>/resources.cjs.
 *
 * Every function has its own role with only what it calls (no `iot:*`, no `Resource: '*'` where the IAM
 * Service Authorization Reference gives the action a resource type); test/security/role-coverage.test.ts
 * checks each role against the SDK commands of its function's bundle.
 */

/** `arn:<partition>:iot:<region>:<account>`, for Fn::Sub. */
const IOT_ARN = 'arn:${AWS::Partition}:iot:${AWS::Region}:${AWS::AccountId}';

/** Roles AWS IoT assumes (rule actions, provisioning), for this account only (confused deputy). */
const IOT_SERVICE_TRUST = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Principal: { Service: 'iot.amazonaws.com' },
      Action: 'sts:AssumeRole',
      Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
    },
  ],
};

/** A function's own role: its log group, plus `statements`. `functionName` is the deployed name (names.cjs). */
function functionRole(name, functionName, statements) {
  return {
    Type: 'AWS::IAM::Role',
    Properties: {
      AssumeRolePolicyDocument: {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      },
      Policies: [
        {
          PolicyName: name,
          PolicyDocument: {
            Version: '2012-10-17',
            Statement: [
              {
                Sid: 'Logs',
                Effect: 'Allow',
                Action: ['logs:CreateLogStream', 'logs:PutLogEvents'],
                Resource: {
                  'Fn::Sub': `arn:\${AWS::Partition}:logs:\${AWS::Region}:\${AWS::AccountId}:log-group:/aws/lambda/${functionName}:*`,
                },
              },
              ...statements,
            ],
          },
        },
      ],
    },
  };
}

/**
 * iot:ListAttachedPolicies on '*'. The IAM Service Authorization Reference lists no resource type for it, and
 * for such an action IAM matches the request against "*" only: a `cert/*` Resource would never match, and the
 * call would be denied. The AWS IoT Developer Guide ("How AWS IoT works with IAM", its actions table) lists
 * the target's ARN (cert, thinggroup) as its resource instead. '*' is the one Resource that is allowed under
 * both readings; adding the `cert/*` ARN beside it would allow nothing more. The action only reads which
 * policies a certificate has, and the code lists those of the certificate it binds or deletes.
 */
const listAttachedPolicies = () => ({ Sid: 'AttachedPolicies', Effect: 'Allow', Action: 'iot:ListAttachedPolicies', Resource: '*' });

/**
 * What the shared binding workflow (shared/provisioning/bind-certificate.ts) calls: read and set certificate
 * status, create the thing and put it in its group, attach (and detach) the certificate, attach the one
 * device policy — JITR and vending alike.
 */
const bindingStatements = (policyActions) => [
  {
    Sid: 'Certificates',
    Effect: 'Allow',
    Action: ['iot:DescribeCertificate', 'iot:UpdateCertificate', 'iot:ListPrincipalThings'],
    Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` },
  },
  listAttachedPolicies(),
  // Each action on its own resource types (IAM Service Authorization Reference): CreateThing on the thing,
  // AddThingToThingGroup on the thing and the group, Attach/DetachThingPrincipal on the certificate only.
  // One statement with the three ARNs for all four allowed the same, plus pairs that match nothing
  // (DetachThingPrincipal on thing/*).
  { Sid: 'Things', Effect: 'Allow', Action: 'iot:CreateThing', Resource: { 'Fn::Sub': `${IOT_ARN}:thing/*` } },
  {
    Sid: 'ThingGroups',
    Effect: 'Allow',
    Action: 'iot:AddThingToThingGroup',
    Resource: [{ 'Fn::Sub': `${IOT_ARN}:thing/*` }, { 'Fn::Sub': `${IOT_ARN}:thinggroup/*` }],
  },
  {
    Sid: 'ThingPrincipals',
    Effect: 'Allow',
    Action: ['iot:AttachThingPrincipal', 'iot:DetachThingPrincipal'],
    Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` },
  },
  // IAM cannot say which policy may be attached: the service authorization reference lists only the target
  // (cert, thinggroup) as AttachPolicy's and DetachPolicy's resources, and no condition key names the policy.
  // A `policy/<name>` ARN here would restrict nothing, so the statement says what it does — certificates as
  // targets only, no thing groups — and the code attaches DEVICE_POLICY_NAME and nothing else.
  {
    Sid: 'PoliciesOnCertificates',
    Effect: 'Allow',
    Action: policyActions.length === 1 ? policyActions[0] : policyActions,
    Resource: { 'Fn::Sub': `${IOT_ARN}:cert/*` },
  },
];

module.exports = { IOT_ARN, IOT_SERVICE_TRUST, functionRole, bindingStatements, listAttachedPolicies };
