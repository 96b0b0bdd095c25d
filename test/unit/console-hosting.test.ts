import { X509Certificate } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { buildConsole } from '../../console/build';
import { amazonRootCa1, consoleConfigFrom, uploadConsole } from '../../console/deploy';
import { loadStack } from '../../lib/stack';
import { ConsoleHost } from '../../local/console/console-host';
import { LocalS3 } from '../../local/s3/local-s3';

/** The console's hosting: the template's bucket, distribution and headers; the build; the upload; the local host. */

const { Resources, Outputs } = loadStack({ stage: 'test' }).resources;
let dist: string;

beforeAll(async () => {
  dist = mkdtempSync(join(tmpdir(), 'console-dist-'));
  await buildConsole(dist);
}, 60_000);

afterAll(() => rmSync(dist, { recursive: true, force: true }));

describe('the console in the template', () => {
  it('is a private bucket that only the distribution reads, over TLS', () => {
    const bucket = Resources.ConsoleBucket!.Properties as { PublicAccessBlockConfiguration: Record<string, boolean>; WebsiteConfiguration?: unknown };
    expect(Object.values(bucket.PublicAccessBlockConfiguration)).toEqual([true, true, true, true]);
    expect(bucket.WebsiteConfiguration).toBeUndefined();
    const statements = (Resources.ConsoleBucketPolicy!.Properties as { PolicyDocument: { Statement: Array<Record<string, unknown>> } }).PolicyDocument.Statement;
    const allows = statements.filter((s) => s.Effect === 'Allow');
    expect(allows).toEqual([
      expect.objectContaining({ Principal: { Service: 'cloudfront.amazonaws.com' }, Action: 's3:GetObject', Condition: { StringEquals: { 'AWS:SourceArn': expect.anything() } } }),
    ]);
    expect(JSON.stringify(allows[0]!.Condition)).toContain('distribution/${ConsoleDistribution}');
    expect(statements.some((s) => s.Effect === 'Deny' && JSON.stringify(s.Condition) === JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }))).toBe(true);
  });

  it('is served by CloudFront with origin access control, HTTPS only, and the security headers', () => {
    const config = (Resources.ConsoleDistribution!.Properties as { DistributionConfig: Record<string, any> }).DistributionConfig;
    expect(config.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    expect(config.Origins[0].OriginAccessControlId).toEqual({ 'Fn::GetAtt': ['ConsoleOriginAccessControl', 'Id'] });
    expect((Resources.ConsoleOriginAccessControl!.Properties as any).OriginAccessControlConfig).toMatchObject({ SigningBehavior: 'always', SigningProtocol: 'sigv4', OriginAccessControlOriginType: 's3' });
    const headers = (Resources.ConsoleHeadersPolicy!.Properties as any).ResponseHeadersPolicyConfig.SecurityHeadersConfig;
    const csp = headers.ContentSecurityPolicy.ContentSecurityPolicy['Fn::Sub'] as string;
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain('https://*.execute-api.${AWS::Region}.');
    expect(headers.StrictTransportSecurity).toMatchObject({ AccessControlMaxAgeSec: 63072000, IncludeSubdomains: true });
    expect(headers.FrameOptions.FrameOption).toBe('DENY');
    expect(Outputs.ConsoleUrl).toEqual({ Value: { 'Fn::Sub': 'https://${ConsoleDistribution.DomainName}/' } });
  });
});

describe('the build and the deploy', () => {
  it('builds content-hashed assets that index.html names, with no inline script', async () => {
    const html = await (await import('node:fs/promises')).readFile(join(dist, 'index.html'), 'utf8');
    expect(html).toMatch(/src="\.\/app-[A-Z0-9]+\.js"/);
    expect(html).toMatch(/href="\.\/app-[A-Z0-9]+\.css"/);
    expect(html).not.toMatch(/<script>(?!<)/);
  });

  it('writes config.json from the stack outputs, with Amazon Root CA 1 for the claim bundle', () => {
    const outputs = { HttpApiUrl: 'https://abc.execute-api.eu-west-1.amazonaws.com', ConsoleSignInUrl: 'https://x.auth.eu-west-1.amazoncognito.com', ConsoleClientId: 'client', UserPoolId: 'eu-west-1_AbC' };
    const config = consoleConfigFrom(outputs, { region: 'eu-west-1', stage: 'prod' });
    expect(config).toMatchObject({ apiUrl: outputs.HttpApiUrl, signIn: { domain: outputs.ConsoleSignInUrl, clientId: 'client', issuer: 'https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbC' }, stage: 'prod' });
    expect(new X509Certificate(amazonRootCa1()).subject).toMatch(/CN=Amazon Root CA 1$/m);
    expect(() => consoleConfigFrom({}, { region: 'eu-west-1', stage: 'prod' })).toThrow(/no output HttpApiUrl/);
  });

  it('uploads the assets, then config.json and index.html, with their cache headers', async () => {
    const s3 = await LocalS3.start({ port: 0, host: '127.0.0.1', region: 'us-east-1' });
    s3.registerAccount('123456789012');
    const client = new S3Client({ endpoint: s3.url, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: '123456789012', secretAccessKey: 'local' } });
    try {
      await s3.createBucket('123456789012', 'console-test');
      const keys = await uploadConsole(client, 'console-test', dist, { stage: 'test' });
      expect(keys.slice(-2)).toEqual(['config.json', 'index.html']);
      const index = await client.send(new GetObjectCommand({ Bucket: 'console-test', Key: 'index.html' }));
      expect(index.CacheControl).toBe('no-cache');
      expect(index.ContentType).toMatch(/^text\/html/);
      const asset = keys.find((k) => k.endsWith('.js'))!;
      expect((await client.send(new GetObjectCommand({ Bucket: 'console-test', Key: asset }))).CacheControl).toContain('immutable');
    } finally {
      client.destroy();
      await s3.close();
    }
  });
});

describe('the local console host', () => {
  it('serves the build and config.json with the security headers, and nothing outside the build', async () => {
    const host = new ConsoleHost({ config: () => ({ stage: 'local' }), connectSources: () => ['http://127.0.0.1:4582'], dist });
    const url = await host.listen(0);
    try {
      const index = await fetch(url);
      expect(index.status).toBe(200);
      expect(index.headers.get('content-security-policy')).toContain("connect-src 'self' http://127.0.0.1:4582");
      expect(index.headers.get('content-security-policy')).toContain("frame-ancestors 'none'");
      expect(index.headers.get('x-frame-options')).toBe('DENY');
      expect(await (await fetch(`${url}config.json`)).json()).toEqual({ stage: 'local' });
      expect((await fetch(`${url}..%2F..%2Fpackage.json`)).status).toBe(404);
      expect((await fetch(`${url}build.ts`)).status).toBe(404);
      expect((await fetch(url, { method: 'POST' })).status).toBe(405);
    } finally {
      await host.close();
    }
  });
});
