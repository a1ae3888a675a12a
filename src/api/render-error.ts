// The ONE place errors become responses: anything thrown while serving a request is rendered here, as
// EC2 Query XML or EBS direct JSON. Errors come from the catalogue (cloud/errors.ts); anything else is a
// fault: logged with its stack and answered as a generic InternalError 500, so internals never leak.
import { XMLBuilder } from 'fast-xml-parser';
import { assertNever } from '../base/assert.ts';
import type { Logger } from '../base/log.ts';
import { isOutOfSpace } from '../base/out-of-space.ts';
import { catalogue, CloudError, type ErrorCode } from '../cloud/errors.ts';
import { xmlSafeText } from './xml-chars.ts';

/** Which wire format an error is rendered in. */
export type ErrorProtocol = 'ec2' | 'ebs';

/** A rendered error response. */
export interface ErrorResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

const xmlBuilder = new XMLBuilder({ format: false, suppressEmptyNode: false });

/** Turns anything thrown while serving a request into its response: the single place errors are rendered. */
export function renderError(
  error: unknown,
  protocol: ErrorProtocol,
  requestId: string,
  logger: Logger,
): ErrorResponse {
  const cloudError = toCloudError(error, logger, requestId);
  switch (protocol) {
    case 'ec2':
      return renderEc2(cloudError, requestId);
    case 'ebs':
      return renderEbs(cloudError, requestId);
    default:
      return assertNever(protocol, 'error protocol');
  }
}

function toCloudError(error: unknown, logger: Logger, requestId: string): CloudError {
  if (error instanceof CloudError) {
    logger.debug({ requestId, code: error.code, message: error.message }, 'request failed');
    return error;
  }
  if (isOutOfSpace(error)) {
    logger.warn({ requestId, err: error }, 'request failed: the disk is full');
    return new CloudError('InsufficientVolumeCapacity');
  }
  logger.error({ requestId, err: error }, 'unexpected fault while serving a request');
  return new CloudError('InternalError');
}

function renderEc2(error: CloudError, requestId: string): ErrorResponse {
  const body = xmlBuilder.build({
    Response: {
      // Messages quote what the client sent, which may hold characters XML cannot carry.
      Errors: { Error: { Code: error.code, Message: xmlSafeText(error.message) } },
      RequestID: requestId,
    },
  }) as string;
  return {
    status: error.status,
    headers: { 'content-type': 'text/xml;charset=UTF-8', 'x-amzn-requestid': requestId },
    body: `<?xml version="1.0" encoding="UTF-8"?>\n${body}`,
  };
}

// EBS speaks restJson1: the SDK reads the code from x-amzn-ErrorType and the message from the body.
function renderEbs(error: CloudError, requestId: string): ErrorResponse {
  const code = ebsCode(error);
  const body = JSON.stringify({ message: error.message, Message: error.message, ...ebsReason(error) });
  return {
    status: catalogue[code].status,
    headers: { 'content-type': 'application/json', 'x-amzn-errortype': code, 'x-amzn-requestid': requestId },
    body,
  };
}

const ebsCodes = new Set<ErrorCode>([
  'ValidationException',
  'ResourceNotFoundException',
  'AccessDeniedException',
  'ConflictException',
  'RequestThrottledException',
  'ServiceQuotaExceededException',
  'ConcurrentLimitExceededException',
  'InternalServerException',
]);

// EC2-flavoured errors raised on the EBS path (auth, limits) map to the nearest EBS exception.
function ebsCode(error: CloudError): ErrorCode {
  if (ebsCodes.has(error.code)) return error.code;
  if (error.status === 401 || error.status === 403) return 'AccessDeniedException';
  if (error.code === 'InsufficientVolumeCapacity') return 'ServiceQuotaExceededException';
  if (error.status >= 500) return 'InternalServerException';
  if (error.code.endsWith('.NotFound')) return 'ResourceNotFoundException';
  return 'ValidationException';
}

function ebsReason(error: CloudError): Record<string, string> {
  const reason = error.data.reason;
  return typeof reason === 'string' && ebsCodes.has(error.code) ? { Reason: reason } : {};
}
