// Free-text EC2 errors. The catalogue (api/errors.ts) fixes code and status; EC2's own messages for
// parameter errors vary per rule ("Volume of 0GiB is too small…"), so these carry the exact text.
import { ApiError, type ErrorCode } from '../api/errors.ts';

/** An ApiError with catalogue `code` whose message is exactly `message` (EC2's wording for this case). */
export function ec2Error(code: ErrorCode, message: string): ApiError {
  const error = new ApiError(code, { message });
  error.message = message;
  return error;
}
