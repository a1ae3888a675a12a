// TEST-ONLY: a byte-level NBD client, so tests can send what real clients never would.
import net from 'node:net';
import type { Socket } from 'node:net';
import { ByteReader } from '../byte-reader.ts';
import {
  BASE_ALLOCATION,
  HandshakeFlag,
  IHAVEOPT,
  NBD_MAGIC,
  OPTION_REPLY_MAGIC,
  Opt,
  REQUEST_MAGIC,
  SIMPLE_REPLY_MAGIC,
  STRUCTURED_REPLY_MAGIC,
} from '../protocol.ts';

/** One option reply. */
export interface OptionReply {
  readonly option: number;
  readonly type: number;
  readonly data: Buffer;
}

/** One reply: a simple reply (`type` -1) or one structured chunk. */
export interface Reply {
  readonly cookie: bigint;
  readonly error: number;
  readonly structured: boolean;
  readonly flags: number;
  readonly type: number;
  readonly data: Buffer;
}

/** A raw NBD client over a unix socket or TCP. */
export class RawClient {
  readonly socket: Socket;
  readonly reader: ByteReader;
  // Simple READ replies carry data of a length only the request knows.
  readonly #readLengths = new Map<bigint, number>();
  readonly closed: Promise<void>;

  private constructor(socket: Socket) {
    this.socket = socket;
    this.reader = new ByteReader(socket);
    this.closed = new Promise((resolve) => socket.once('close', () => resolve()));
    socket.on('error', () => {});
  }

  /** Connects (unix socket path, or TCP address) and reads the server greeting; returns the handshake flags. */
  static async connect(
    to: string | { host: string; port: number },
  ): Promise<{ client: RawClient; handshakeFlags: number }> {
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s = net.connect(typeof to === 'string' ? { path: to } : to, () => resolve(s));
      s.once('error', reject);
    });
    const client = new RawClient(socket);
    const greeting = await client.reader.read(18);
    if (greeting.readBigUInt64BE(0) !== NBD_MAGIC || greeting.readBigUInt64BE(8) !== IHAVEOPT) {
      throw new Error('bad greeting');
    }
    return { client, handshakeFlags: greeting.readUInt16BE(16) };
  }

  /** Connects and negotiates `name` with NBD_OPT_GO; structured replies and base:allocation on request. */
  static async open(
    path: string,
    name: string,
    options: { structured?: boolean; allocation?: boolean } = {},
  ): Promise<{ client: RawClient; sizeBytes: number; transmissionFlags: number }> {
    const { client } = await RawClient.connect(path);
    client.sendClientFlags(HandshakeFlag.FIXED_NEWSTYLE | HandshakeFlag.NO_ZEROES);
    if (options.structured) {
      client.sendOption(Opt.STRUCTURED_REPLY, Buffer.alloc(0));
      await client.readOptionReply();
    }
    if (options.allocation) {
      client.sendOption(Opt.SET_META_CONTEXT, metaContextData(name, [BASE_ALLOCATION]));
      while ((await client.readOptionReply()).type !== 1);
    }
    client.sendOption(Opt.GO, goData(name, []));
    for (;;) {
      const reply = await client.readOptionReply();
      if (reply.type === 3 && reply.data.readUInt16BE(0) === 0) {
        const sizeBytes = Number(reply.data.readBigUInt64BE(2));
        const transmissionFlags = reply.data.readUInt16BE(10);
        await client.readOptionReply(); // ACK
        return { client, sizeBytes, transmissionFlags };
      }
      if (reply.type !== 3)
        throw new Error(`GO refused: 0x${reply.type.toString(16)} ${reply.data.toString()}`);
    }
  }

  /** Sends the 32-bit client flags. */
  sendClientFlags(flags: number): void {
    const buffer = Buffer.alloc(4);
    buffer.writeUInt32BE(flags);
    this.socket.write(buffer);
  }

  /** Sends one option with its data. */
  sendOption(option: number, data: Buffer): void {
    const header = Buffer.alloc(16);
    header.writeBigUInt64BE(IHAVEOPT, 0);
    header.writeUInt32BE(option, 8);
    header.writeUInt32BE(data.length, 12);
    this.socket.write(Buffer.concat([header, data]));
  }

  /** Reads one option reply. */
  async readOptionReply(): Promise<OptionReply> {
    const header = await this.reader.read(20);
    if (header.readBigUInt64BE(0) !== OPTION_REPLY_MAGIC) throw new Error('bad option reply magic');
    const data = await this.reader.read(header.readUInt32BE(16));
    return { option: header.readUInt32BE(8), type: header.readUInt32BE(12), data };
  }

  /** Sends one request; `payload` follows for writes. */
  request(
    type: number,
    flags: number,
    cookie: bigint,
    offset: number,
    length: number,
    payload?: Buffer,
  ): void {
    const header = Buffer.alloc(28);
    header.writeUInt32BE(REQUEST_MAGIC, 0);
    header.writeUInt16BE(flags, 4);
    header.writeUInt16BE(type, 6);
    header.writeBigUInt64BE(cookie, 8);
    header.writeBigUInt64BE(BigInt(offset), 16);
    header.writeUInt32BE(length, 24);
    if (type === 0) this.#readLengths.set(cookie, length);
    this.socket.write(payload ? Buffer.concat([header, payload]) : header);
  }

  /** Reads one reply or structured chunk. */
  async readReply(): Promise<Reply> {
    const magic = (await this.reader.read(4)).readUInt32BE(0);
    if (magic === SIMPLE_REPLY_MAGIC) {
      const rest = await this.reader.read(12);
      const cookie = rest.readBigUInt64BE(4);
      const error = rest.readUInt32BE(0);
      const length = error === 0 ? (this.#readLengths.get(cookie) ?? 0) : 0;
      this.#readLengths.delete(cookie);
      return { cookie, error, structured: false, flags: 0, type: -1, data: await this.reader.read(length) };
    }
    if (magic !== STRUCTURED_REPLY_MAGIC) throw new Error(`bad reply magic 0x${magic.toString(16)}`);
    const rest = await this.reader.read(16);
    const type = rest.readUInt16BE(2);
    const data = await this.reader.read(rest.readUInt32BE(12));
    const error = type >= 0x8000 ? data.readUInt32BE(0) : 0;
    return {
      cookie: rest.readBigUInt64BE(4),
      error,
      structured: true,
      flags: rest.readUInt16BE(0),
      type,
      data,
    };
  }

  /** Closes the socket. */
  destroy(): void {
    this.socket.destroy();
  }
}

/** NBD_OPT_INFO/GO data for `name` with info requests. */
export function goData(name: string, infos: number[]): Buffer {
  const nameBytes = Buffer.from(name);
  const data = Buffer.alloc(4 + nameBytes.length + 2 + 2 * infos.length);
  data.writeUInt32BE(nameBytes.length, 0);
  nameBytes.copy(data, 4);
  data.writeUInt16BE(infos.length, 4 + nameBytes.length);
  infos.forEach((info, i) => data.writeUInt16BE(info, 6 + nameBytes.length + 2 * i));
  return data;
}

/** Meta context option data for `name` and queries. */
export function metaContextData(name: string, queries: string[]): Buffer {
  const parts: Buffer[] = [];
  const u32 = (value: number): Buffer => {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(value);
    return b;
  };
  parts.push(u32(Buffer.byteLength(name)), Buffer.from(name), u32(queries.length));
  for (const query of queries) parts.push(u32(Buffer.byteLength(query)), Buffer.from(query));
  return Buffer.concat(parts);
}
