// The request target of an HTTP request line, split into what the API needs, for any bytes a client sends.
//
// Node hands the target over unparsed (`req.url`): origin form `/path?query` from every SDK, but also the
// absolute form `http://host/path` (proxies), the authority form `host:port` (CONNECT) and `*` (OPTIONS),
// and any junk the HTTP parser lets through (`//`, `//[::1`, `/%zz`). Parsing must never throw anything but
// an ApiError: an exception outside the request's try once stopped the daemon (issue 12).
import { ApiError } from './errors.ts';

/** A request target taken apart. */
export interface RequestTarget {
  /** The path as sent (still percent-encoded): what SigV4 signs. */
  readonly rawPath: string;
  /** The path normalised as WHATWG URL does (dot segments resolved), still percent-encoded: what routes. */
  readonly pathname: string;
  /** The raw query string, without `?`. */
  readonly rawQuery: string;
}

const absoluteForm = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/;

/** Splits `target`; throws ApiError InvalidRequest for the authority and asterisk forms and for junk. */
export function parseRequestTarget(target: string): RequestTarget {
  const originForm = target.startsWith('/') ? target : fromAbsoluteForm(target);
  const queryAt = originForm.indexOf('?');
  const rawPath = queryAt === -1 ? originForm : originForm.slice(0, queryAt);
  const rawQuery = queryAt === -1 ? '' : originForm.slice(queryAt + 1);
  return { rawPath, pathname: normalisePath(rawPath, target), rawQuery };
}

function fromAbsoluteForm(target: string): string {
  const scheme = absoluteForm.exec(target);
  if (scheme === null) throw invalidTarget(target);
  // The authority is ignored (as for origin-form requests, Host is not routed on), so `http://[::1/` is fine.
  const rest = target.slice(scheme[0].length);
  return rest.startsWith('/') ? rest : `/${rest}`;
}

function normalisePath(rawPath: string, target: string): string {
  try {
    // Prefixing the origin keeps `//x` a path: as a relative reference it would be a host.
    return new URL(`http://localhost${rawPath}`).pathname;
  } catch {
    throw invalidTarget(target);
  }
}

function invalidTarget(target: string): ApiError {
  const shown = target.length > 100 ? `${target.slice(0, 100)}…` : target;
  return new ApiError('InvalidRequest', {
    message: `The request target must be a path such as /?Action=…: got ${JSON.stringify(shown)}`,
  });
}

/** `rawPath` percent-decoded; a malformed escape (`%zz`, `%E0%A4%A`) is a ValidationException, not a fault. */
export function decodePath(rawPath: string): string {
  try {
    return decodeURIComponent(rawPath);
  } catch {
    throw new ApiError('ValidationException', {
      message: `The path is not valid percent-encoded UTF-8: ${JSON.stringify(rawPath.slice(0, 200))}.`,
      reason: 'INVALID_PARAMETER_VALUE',
    });
  }
}
