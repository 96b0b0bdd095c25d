'use strict';
/**
 * The console's hosting, the way serverless web apps are hosted: a private S3 bucket (no public access, no
 * website endpoint) that only the stack's CloudFront distribution may read, through origin access control
 * (SigV4-signed origin requests; the bucket policy names the distribution's ARN), HTTPS only, and a
 * response-headers policy with the security headers (CSP, HSTS, frame-ancestors, nosniff, referrer policy).
 * `npm run deploy` uploads the built console and its config.json (console/deploy.ts). The CSP's
 * connect-src names the two other origins the page talks to: the region's HTTP APIs and sign-in domains.
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
                  // Host wildcards, not the API's own id: the API's CORS names this distribution, and a reference
                  // back would be a cycle. The page sends its token only to the API of its config.json.
                  'Fn::Sub': consoleCsp('https://*.execute-api.${AWS::Region}.${AWS::URLSuffix} https://*.auth.${AWS::Region}.amazoncognito.com'),
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

/**
 * The HTTP API's CORS (the console is another origin than the API): the console's origins only — the
 * distribution's, and the consoleUrl parameter's (else the local console's) — with the headers and methods
 * the page sends. API Gateway answers the preflights itself and adds the headers to the routes' answers.
 * osls compiles the HTTP API, so this reaches it as a resource extension (resources/stack.cjs).
 */
function consoleCors(settings) {
  const { consoleUrls } = require('./operators.cjs');
  const origins = consoleUrls(settings.consoleUrl, true).map((url) =>
    typeof url === 'string' ? new URL(url).origin : { 'Fn::Sub': url['Fn::Sub'].replace(/\/$/, '') },
  );
  return {
    AllowOrigins: origins,
    AllowHeaders: ['authorization', 'content-type', 'idempotency-key'],
    AllowMethods: ['GET', 'POST', 'DELETE'],
    MaxAge: 600,
  };
}

module.exports = { consoleResources, consoleCsp, consoleCors };
