// The console's static files (dist/console/, built by src/console/console-build.mjs), served at /console/.
// A request names a file only by matching an entry of the directory's listing, so no path from the client
// is ever joined to a directory: `..`, encoded slashes and absolute paths simply match nothing. Any other
// path under /console/ without an extension gets index.html (client-side routes); the routes themselves are
// hash routes, so that is a courtesy for mistyped links.
import { existsSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** A response the API server sends as is. */
export interface ConsoleResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string | Buffer;
}

const contentTypes: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

// Everything from this origin, nothing from another: no external fonts, scripts or frames. Styles allow
// inline attributes (Preact sets `style`); scripts do not.
const contentSecurityPolicy = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/** Headers every console response carries. */
export const securityHeaders: Readonly<Record<string, string>> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'content-security-policy': contentSecurityPolicy,
};

/** dist/console of the checkout or install this code runs from (src/ through tsx, dist/ when bundled). */
export function defaultConsoleAssetsDir(): string | undefined {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    const candidate = join(dir, 'dist', 'console');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    dir = dirname(dir);
  }
  return undefined;
}

function text(status: number, body: string, extra: Record<string, string> = {}): ConsoleResponse {
  return {
    status,
    headers: { ...securityHeaders, 'content-type': 'text/plain; charset=utf-8', ...extra },
    body,
  };
}

/** Answers GET/HEAD `pathname` (under /console) from `assetsDir`. */
export async function serveConsoleAsset(
  assetsDir: string | undefined,
  method: string,
  pathname: string,
): Promise<ConsoleResponse> {
  if (method !== 'GET' && method !== 'HEAD')
    return text(405, 'The console is read with GET.\n', { allow: 'GET, HEAD' });
  if (pathname === '/console') return text(301, 'Moved to /console/\n', { location: '/console/' });
  const listing = assetsDir === undefined ? [] : await readdir(assetsDir).catch(() => [] as string[]);
  if (assetsDir === undefined || !listing.includes('index.html'))
    return text(404, 'The console is not built: run `node scripts/build.mjs` (scripts/start does).\n');
  const name = pathname.slice('/console/'.length);
  const file = name === '' ? 'index.html' : listing.find((entry) => entry === name);
  if (file === undefined && (name.includes('.') || name.length > 200))
    return text(404, 'No such console file.\n');
  const served = file ?? 'index.html';
  const body = await readFile(join(assetsDir, served));
  const contentType = contentTypes[extname(served)] ?? 'application/octet-stream';
  // no-cache: a rebuild shows at the next load.
  return {
    status: 200,
    headers: { ...securityHeaders, 'content-type': contentType, 'cache-control': 'no-cache' },
    body,
  };
}
