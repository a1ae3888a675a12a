// The shapes of one EBS direct exchange: a leaf, so the router and the actions both import it and not
// each other.
import type { Logger } from '../../base/log.ts';
import type { Cloud } from '../../cloud/cloud.ts';
import type { Caller } from '../auth/sigv4.ts';

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
