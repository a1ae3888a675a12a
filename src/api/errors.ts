// The API edge's name for the error vocabulary. The catalogue and the class live in cloud/errors.ts (a leaf
// the domain throws from); responses are rendered in render-error.ts. Edge code (auth, query parsing, the
// EBS router) throws `ApiError`, which is the very same class as `CloudError`.
export { CloudError as ApiError, catalogue, type ErrorCode, type ErrorData } from '../cloud/errors.ts';
