// The EBS direct API (REST/JSON, service `ebs`) shares the daemon's port with EC2, routed by path.
// `ebsDirectHandler` (below) routes each request (ebs-routes.ts) to its action (ebs-actions.ts), which calls
// the domain service `cloud.ebsDirect`; errors are ApiErrors with EBS codes, rendered as JSON by api-server.ts.
import type { Logger } from '../../base/log.ts';
import type { Cloud } from '../../cloud/cloud.ts';
import type { Caller } from '../auth/sigv4.ts';
import { ApiError } from '../errors.ts';
import { runEbsAction } from './ebs-actions.ts';
import { routeEbs } from './ebs-routes.ts';

/** Paths the EBS direct API owns (StartSnapshot, PutSnapshotBlock, ListChangedBlocks, …). */
export function isEbsPath(path: string): boolean {
  return path === '/snapshots' || path.startsWith('/snapshots/');
}

/** One authenticated EBS request. */
export interface EbsRequest {
  readonly requestId: string;
  readonly caller: Caller;
  readonly method: string;
  /** Decoded path, without the query. */
  readonly path: string;
  readonly query: URLSearchParams;
  readonly headers: Readonly<Record<string, string | string[] | undefined>>;
  readonly body: Buffer;
  readonly cloud: Cloud;
  readonly logger: Logger;
}

/** What an EBS handler answers. */
export interface EbsResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer | string;
}

/** Handles one EBS request. */
export type EbsHandler = (request: EbsRequest) => Promise<EbsResponse>;

/** The placeholder: EBS direct is not implemented yet. */
export const notImplementedEbs: EbsHandler = (request) =>
  Promise.reject(
    new ApiError('ValidationException', {
      message: `EBS direct API ${request.method} ${request.path} is not implemented yet`,
    }),
  );

/** The EBS direct API over `request.cloud.ebsDirect` (docs/ebs-direct.md). */
export const ebsDirectHandler: EbsHandler = (request) =>
  runEbsAction(routeEbs(request.method, request.path), request);
