// Child-process entry of the test S3 server. s3rver speaks real S3 but checks only the access key id, not
// SigV4 signatures, so a front proxy verifies every signature (with Strata's own verifier, which recomputes
// it through @smithy/signature-v4) before forwarding. s3rver needs OpenSSL's legacy provider (DES
// continuation tokens): run under `node --openssl-legacy-provider`. Prints `{"port":N}`; exits on SIGTERM.
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import S3rver from 's3rver';
import { verifySigV4 } from '../../api/auth/sigv4.ts';

const [directory, bucket] = process.argv.slice(2);
if (directory === undefined || bucket === undefined) throw new Error('usage: s3-server-main.ts DIR BUCKET');
const keys = new Map([['S3RVER', 'S3RVER']]);
const bodyBytesMax = 16 * 1024 * 1024;

const s3rver = new S3rver({
  address: '127.0.0.1',
  port: 0,
  silent: true,
  directory,
  configureBuckets: [{ name: bucket, configs: [] }],
});
const backend = await s3rver.run();

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const parts: Buffer[] = [];
  let length = 0;
  for await (const part of request) {
    length += (part as Buffer).length;
    if (length > bodyBytesMax) throw new Error('body too large for the test server');
    parts.push(part as Buffer);
  }
  return Buffer.concat(parts);
}

function refuse(response: ServerResponse, code: string, message: string): void {
  response.writeHead(403, { 'content-type': 'application/xml' });
  response.end(
    `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`,
  );
}

async function handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
  const body = await readBody(request);
  const url = request.url ?? '/';
  const at = url.indexOf('?');
  try {
    await verifySigV4(
      {
        method: request.method ?? 'GET',
        path: at < 0 ? url : url.slice(0, at),
        query: at < 0 ? '' : url.slice(at + 1),
        headers: request.headers,
        body,
      },
      async (id) => {
        const secretAccessKey = keys.get(id);
        return secretAccessKey === undefined ? undefined : { secretAccessKey, accountId: '000000000000' };
      },
      { services: ['s3'], region: 'us-east-1' },
    );
  } catch (error) {
    const code = (error as { code?: string }).code ?? 'AccessDenied';
    refuse(response, code === 'AuthFailure' ? 'InvalidAccessKeyId' : code, (error as Error).message);
    return;
  }
  const forward = httpRequest(
    { host: '127.0.0.1', port: backend.port, method: request.method, path: url, headers: request.headers },
    (answer) => {
      response.writeHead(answer.statusCode ?? 500, answer.headers);
      answer.pipe(response);
    },
  );
  forward.on('error', (error) => response.destroy(error));
  forward.end(body);
}

const front = createServer((request, response) => {
  handle(request, response).catch((error: unknown) => response.destroy(error as Error));
});
front.listen(0, '127.0.0.1', () => {
  process.stdout.write(`${JSON.stringify({ port: (front.address() as AddressInfo).port })}\n`);
});
process.on('SIGTERM', () => {
  front.close();
  void s3rver.close().then(() => process.exit(0));
});
