import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import { S3CertificateStore } from '../../shared/aws/certificate-store';
import { createIotClient, createS3Client } from '../../shared/aws/clients';
import { iotCalls } from '../../shared/aws/iot/calls';
import { deleteCertificate, describeCertificate, updateCertificateStatus } from '../../shared/aws/iot/certificates';
import { describeEndpoint } from '../../shared/aws/iot/endpoints';
import { createKeysAndCertificate } from '../../shared/aws/iot/issuance';
import { detachPolicy, listAttachedPolicies } from '../../shared/aws/iot/policies';
import { detachThingPrincipal, listPrincipalThings } from '../../shared/aws/iot/things';
import { DEFAULT_CUSTOM_RESOURCE_SETTINGS, handleCustomResourceRequest, type CustomResourceDeps } from '../../shared/cloudformation/custom-resource';
import { sendResponse, type CustomResourceResponse } from '../../shared/cloudformation/respond';
import { loadCertificateResourceConfig } from '../../shared/config';
import { memoizeAsync } from '../../shared/lambda/memoize';
import { logger } from '../../shared/logger';
import { metricsMiddleware } from '../../shared/metrics';
import { DEFAULT_CERTIFICATE_RESOURCE_SETTINGS, deviceCertificateResource } from '../../shared/provisioning/certificate-resource';

/** `Custom::DeviceCertificate`: the CloudFormation custom resource that vends a device's keys into S3. */

const config = loadCertificateResourceConfig();
// Exactly the IoT calls the custom resource makes (its role grants these): each brings only its command into the bundle.
const iot = iotCalls(createIotClient(), {
  createKeysAndCertificate,
  describeCertificate,
  updateCertificateStatus,
  listPrincipalThings,
  detachThingPrincipal,
  listAttachedPolicies,
  detachPolicy,
  deleteCertificate,
  describeEndpoint,
});
const deviceCertificates = deviceCertificateResource({
  iot,
  store: new S3CertificateStore(createS3Client({ forcePathStyle: config.forcePathStyle }), config.bucket),
  dataEndpoint: memoizeAsync(() => iot.describeEndpoint('iot:Data-ATS')),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  settings: DEFAULT_CERTIFICATE_RESOURCE_SETTINGS,
  log: logger,
});
const protocol: CustomResourceDeps = { respond: sendResponse, settings: DEFAULT_CUSTOM_RESOURCE_SETTINGS, log: logger };

export const lambdaHandler = (event: unknown, context: Pick<Context, 'getRemainingTimeInMillis' | 'logStreamName'>): Promise<CustomResourceResponse | undefined> =>
  handleCustomResourceRequest(event, context, deviceCertificates, protocol);

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true })).use(metricsMiddleware());
