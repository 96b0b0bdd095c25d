import { Logger } from '@aws-lambda-powertools/logger';

/** The one logger. Level from POWERTOOLS_LOG_LEVEL; keys, not interpolation; never key material. */
export const logger = new Logger({ serviceName: 'iot-provisioner' });
