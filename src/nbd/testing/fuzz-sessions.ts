// Fuzzed NBD sessions, shared by the NBD server's fuzz test (nbd-fuzz.test.ts, in-process) and the system
// fuzzer (src/api/fuzz/, against a running daemon): a valid newstyle session (options, then requests), a
// mutation of it (bit flips, truncation, inserted junk), and a player that sends it in random splits.
import net from 'node:net';
import { BASE_ALLOCATION, Cmd, HandshakeFlag, IHAVEOPT, Opt, REQUEST_MAGIC } from '../protocol.ts';
import { goData, metaContextData } from './raw-client.ts';

/** The magic of a simple reply, to spot answers in what a session received. */
export const SIMPLE_MAGIC_BYTES = Buffer.from([0x67, 0x44, 0x66, 0x98]);
/** The magic of a structured reply. */
export const STRUCTURED_MAGIC_BYTES = Buffer.from([0x66, 0x8e, 0x33, 0xef]);

/** One NBD option request: IHAVEOPT, the option code, its data. */
export function option(code: number, data: Buffer): Buffer {
  const header = Buffer.alloc(16);
  header.writeBigUInt64BE(IHAVEOPT, 0);
  header.writeUInt32BE(code, 8);
  header.writeUInt32BE(data.length, 12);
  return Buffer.concat([header, data]);
}

// Mostly known commands at offsets inside the export; now and then any type, flag or offset.
function request(random: () => number, cookie: number, exportBytes: number): Buffer {
  const type = random() < 0.9 ? Math.floor(random() * 8) : Math.floor(random() * 65536);
  const safeType = type === Cmd.DISC && random() < 0.8 ? Cmd.READ : type;
  const length = Math.floor(random() * (random() < 0.5 ? 4096 : 128 * 1024));
  const offset = random() < 0.9 ? Math.floor(random() * exportBytes) : Math.floor(random() * 2 ** 40);
  const header = Buffer.alloc(28);
  header.writeUInt32BE(REQUEST_MAGIC, 0);
  header.writeUInt16BE(random() < 0.8 ? 0 : Math.floor(random() * 64), 4);
  header.writeUInt16BE(safeType, 6);
  header.writeBigUInt64BE(BigInt(cookie), 8);
  header.writeBigUInt64BE(BigInt(offset), 16);
  header.writeUInt32BE(length, 24);
  return safeType === Cmd.WRITE ? Buffer.concat([header, Buffer.alloc(length, cookie & 0xff)]) : header;
}

/** A valid session on `exportName` (of `exportBytes`): client flags, options, GO or EXPORT_NAME, requests. */
export function session(random: () => number, exportName: string, exportBytes: number): Buffer {
  const flags = Buffer.alloc(4);
  flags.writeUInt32BE(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES);
  const parts: Buffer[] = [flags];
  if (random() < 0.7) parts.push(option(Opt.STRUCTURED_REPLY, Buffer.alloc(0)));
  if (random() < 0.5)
    parts.push(option(Opt.SET_META_CONTEXT, metaContextData(exportName, [BASE_ALLOCATION])));
  if (random() < 0.2) parts.push(option(Opt.LIST, Buffer.alloc(0)));
  parts.push(
    random() < 0.8
      ? option(Opt.GO, goData(exportName, []))
      : option(Opt.EXPORT_NAME, Buffer.from(exportName)),
  );
  const count = 1 + Math.floor(random() * 12);
  for (let i = 0; i < count; i++) parts.push(request(random, i + 1, exportBytes));
  return Buffer.concat(parts);
}

/** `bytes` with a few bytes flipped, cut short, junk inserted, or unchanged (a quarter each). */
export function mutate(random: () => number, bytes: Buffer): Buffer {
  const choice = Math.floor(random() * 4);
  if (choice === 0) {
    const copy = Buffer.from(bytes);
    for (let n = 1 + Math.floor(random() * 4); n > 0; n--)
      copy[Math.floor(random() * copy.length)] = Math.floor(random() * 256);
    return copy;
  }
  if (choice === 1) return bytes.subarray(0, Math.floor(random() * bytes.length));
  if (choice === 2) {
    const at = Math.floor(random() * bytes.length);
    const junk = Buffer.from(
      Array.from({ length: 1 + Math.floor(random() * 40) }, () => Math.floor(random() * 256)),
    );
    return Buffer.concat([bytes.subarray(0, at), junk, bytes.subarray(at)]);
  }
  return bytes;
}

/** Sends `bytes` in random pieces to the unix socket `socketPath`; ends (or abandons) it; returns what came back. */
export async function play(
  socketPath: string,
  random: () => number,
  bytes: Buffer,
): Promise<{ output: Buffer; abandoned: boolean }> {
  const socket = net.connect({ path: socketPath });
  const received: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => received.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  for (let at = 0; at < bytes.length;) {
    const step = 1 + Math.floor(random() * 2048);
    socket.write(bytes.subarray(at, at + step));
    at += step;
    if (random() < 0.1) await new Promise((resolve) => setImmediate(resolve));
  }
  return hangUp(random, socket, closed, received);
}

/** Ends a played session, or (one time in five) abandons it; waits (5 s at most) for the close. */
export async function hangUp(
  random: () => number,
  socket: net.Socket,
  closed: Promise<void>,
  received: readonly Buffer[],
): Promise<{ output: Buffer; abandoned: boolean }> {
  const abandoned = random() < 0.2;
  if (abandoned) socket.destroy();
  else socket.end();
  const timer = setTimeout(() => socket.destroy(), 5000);
  await closed;
  clearTimeout(timer);
  return { output: Buffer.concat(received), abandoned };
}
