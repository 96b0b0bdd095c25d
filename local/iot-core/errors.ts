/**
 * AWS IoT control-plane errors as the service returns them (aws-iot-reference §0): HTTP status from the
 * model, `x-amzn-ErrorType: <Code>` and a body of `{"message", "__type"}`, which is what
 * `@aws-sdk/client-iot` and botocore (the AWS CLI) read.
 */
export const ERROR_STATUS = {
  InvalidRequestException: 400,
  ThrottlingException: 400,
  CertificateValidationException: 400,
  RegistrationCodeValidationException: 400,
  MalformedPolicyException: 400,
  ResourceRegistrationFailureException: 400,
  UnauthorizedException: 401,
  // The errors common to all AWS APIs (not in the iot model's operations): IAM denied the call, or the
  // security token is not one AWS issued (403 both: https://docs.aws.amazon.com/awsconsolehelpdocs/latest/gsg/common-errors.html;
  // "Service: AWSIot; Status Code: 403; Error Code: AccessDeniedException" in awsdocs/aws-freertos-docs#2).
  AccessDeniedException: 403,
  UnrecognizedClientException: 403,
  ExpiredTokenException: 403,
  ResourceNotFoundException: 404,
  CertificateStateException: 406,
  ResourceAlreadyExistsException: 409,
  DeleteConflictException: 409,
  CertificateConflictException: 409,
  ConflictingResourceUpdateException: 409,
  VersionConflictException: 409,
  // Jobs: deleting or canceling what is in progress without force (DeleteJob, CancelJobExecution); a job template id taken (CreateJobTemplate).
  InvalidStateTransitionException: 409,
  ConflictException: 409,
  VersionsLimitExceededException: 409,
  LimitExceededException: 410,
  InternalFailureException: 500,
  // The topic-rule operations' internal error (ListTopicRules, GetTopicRule: the iot model).
  InternalException: 500,
  ServiceUnavailableException: 503,
} as const;

export type IotErrorCode = keyof typeof ERROR_STATUS;

export class IotError extends Error {
  readonly status: number;
  constructor(
    readonly code: IotErrorCode,
    message: string,
    readonly extra: Record<string, string> = {},
  ) {
    super(message);
    this.name = code;
    this.status = ERROR_STATUS[code];
  }
}

export const invalid = (message: string) => new IotError('InvalidRequestException', message);
export const notFound = (message: string) => new IotError('ResourceNotFoundException', message);
