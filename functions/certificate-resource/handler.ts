import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import type { Context } from 'aws-lambda';
import { S3CertificateStore } from '../../shared/aws/certificate-store';
import { createIotClient, createS3Client } from '../../shared/aws/clients';
import { AwsIotDirectory } from '../../shared/aws/iot-directory';
import { sendResponse, type CustomResourceResponse } from '../../shared/cloudformation/respond';
import { loadCertificateResourceConfig } from '../../shared/config';
import { logger } from '../../shared/logger';
import {
  DEFAULT_CERTIFICATE_RESOURCE_SETTINGS,
  handleCertificateResourceRequest,
  type CertificateResourceDeps,
} from '../../shared/provisioning/certificate-resource';

/** `Custom::DeviceCertificate`: the CloudFormation custom resource that vends a device's keys into S3. */

const config = loadCertificateResourceConfig();
const iot = new AwsIotDirectory(createIotClient());
let endpoint: Promise<string> | undefined;
const deps: CertificateResourceDeps = {
  iot,
  store: new S3CertificateStore(createS3Client({ forcePathStyle: config.forcePathStyle }), config.bucket),
  dataEndpoint: () => {
    endpoint ??= iot.describeEndpoint('iot:Data-ATS').catch((error: unknown) => {
      endpoint = undefined;
      throw error;
    });
    return endpoint;
  },
  respond: sendResponse,
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
  settings: DEFAULT_CERTIFICATE_RESOURCE_SETTINGS,
  log: logger,
};

export const lambdaHandler = (event: unknown, context: Pick<Context, 'getRemainingTimeInMillis' | 'logStreamName'>): Promise<CustomResourceResponse | undefined> =>
  handleCertificateResourceRequest(event, context, deps);

export const handler = middy(lambdaHandler).use(injectLambdaContext(logger, { resetKeys: true }));
