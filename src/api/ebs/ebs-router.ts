// The EBS direct API (REST/JSON, service `ebs`) shares the daemon's port with EC2, routed by path.
// `ebsDirectHandler` (below) routes each request (ebs-routes.ts) to its action (ebs-actions.ts), which calls
// the domain service `cloud.ebsDirect`; errors are ApiErrors with EBS codes, rendered as JSON by api-server.ts.
import { ApiError } from '../errors.ts';
import { runEbsAction } from './ebs-actions.ts';
import { routeEbs } from './ebs-routes.ts';
import type { EbsHandler } from './ebs-request.ts';

export type { EbsHandler, EbsRequest, EbsResponse } from './ebs-request.ts';

/** Paths the EBS direct API owns (StartSnapshot, PutSnapshotBlock, ListChangedBlocks, …). */
export function isEbsPath(path: string): boolean {
  return path === '/snapshots' || path.startsWith('/snapshots/');
}

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
