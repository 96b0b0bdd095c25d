'use strict';
/**
 * The console's hosting, the way serverless web apps are hosted: a private S3 bucket (no public access, no
 * website endpoint) that only the stack's CloudFront distribution may read, through origin access control
 * (SigV4-signed origin requests; the bucket policy names the distribution's ARN), HTTPS only, and a
 * response-headers policy with the security headers (CSP, HSTS, frame-ancestors, nosniff, referrer policy).
 * `npm run deploy` uploads the built console and its config.json (console/deploy.ts). The CSP's
 * connect-src names the two other origins the page talks to: the HTTP API and the user pool's sign-in domain.
 */

/** CloudFront's managed cache policy "CachingOptimized" (it honours the objects' Cache-Control). */
const CACHING_OPTIMIZED = '658327ea-f89d-4fab-a63d-7e88639e58f6';

const consoleCsp = (connect) =>
  [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data: blob:",
    `connect-src 'self' ${connect}`,
    "media-src 'self' blob:",
    "frame-ancestors 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "object-src 'none'",
  ].join('; ');

function consoleResources({ names, tlsOnlyBucketPolicy, privateBucket }) {
  const policy = tlsOnlyBucketPolicy('ConsoleBucket');
  policy.Properties.PolicyDocument.Statement.push({
    Sid: 'DistributionReadsOnly',
    Effect: 'Allow',
    Principal: { Service: 'cloudfront.amazonaws.com' },
    Action: 's3:GetObject',
    Resource: { 'Fn::Sub': '${ConsoleBucket.Arn}/*' },
    Condition: { StringEquals: { 'AWS:SourceArn': { 'Fn::Sub': 'arn:${AWS::Partition}:cloudfront::${AWS::AccountId}:distribution/${ConsoleDistribution}' } } },
  });
  return {
    Resources: {
      ConsoleBucket: privateBucket(),
      ConsoleBucketPolicy: policy,
      ConsoleOriginAccessControl: {
        Type: 'AWS::CloudFront::OriginAccessControl',
        Properties: {
          OriginAccessControlConfig: {
            Name: names.consoleOriginAccess,
            OriginAccessControlOriginType: 's3',
            SigningBehavior: 'always',
            SigningProtocol: 'sigv4',
          },
        },
      },
      ConsoleHeadersPolicy: {
        Type: 'AWS::CloudFront::ResponseHeadersPolicy',
        Properties: {
          ResponseHeadersPolicyConfig: {
            Name: names.consoleHeaders,
            SecurityHeadersConfig: {
              ContentSecurityPolicy: {
                ContentSecurityPolicy: {
                  'Fn::Sub': consoleCsp('https://${HttpApi}.execute-api.${AWS::Region}.${AWS::URLSuffix} https://*.auth.${AWS::Region}.amazoncognito.com'),
                },
                Override: true,
              },
              StrictTransportSecurity: { AccessControlMaxAgeSec: 63072000, IncludeSubdomains: true, Preload: true, Override: true },
              ContentTypeOptions: { Override: true },
              FrameOptions: { FrameOption: 'DENY', Override: true },
              ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
            },
          },
        },
      },
      ConsoleDistribution: {
        Type: 'AWS::CloudFront::Distribution',
        Properties: {
          DistributionConfig: {
            Enabled: true,
            Comment: `${names.prefix} provisioning console`,
            DefaultRootObject: 'index.html',
            HttpVersion: 'http2and3',
            PriceClass: 'PriceClass_100',
            Origins: [
              {
                Id: 'console-bucket',
                DomainName: { 'Fn::GetAtt': ['ConsoleBucket', 'RegionalDomainName'] },
                // Origin access control, not the legacy origin access identity (which stays empty).
                S3OriginConfig: { OriginAccessIdentity: '' },
                OriginAccessControlId: { 'Fn::GetAtt': ['ConsoleOriginAccessControl', 'Id'] },
              },
            ],
            DefaultCacheBehavior: {
              TargetOriginId: 'console-bucket',
              ViewerProtocolPolicy: 'redirect-to-https',
              AllowedMethods: ['GET', 'HEAD'],
              CachedMethods: ['GET', 'HEAD'],
              Compress: true,
              CachePolicyId: CACHING_OPTIMIZED,
              ResponseHeadersPolicyId: { Ref: 'ConsoleHeadersPolicy' },
            },
            ViewerCertificate: { CloudFrontDefaultCertificate: true },
          },
        },
      },
    },
    Outputs: {
      ConsoleUrl: { Value: { 'Fn::Sub': 'https://${ConsoleDistribution.DomainName}/' } },
      ConsoleBucketName: { Value: { Ref: 'ConsoleBucket' } },
    },
  };
}

module.exports = { consoleResources, consoleCsp };
