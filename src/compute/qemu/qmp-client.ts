// A small QMP client: connects to QEMU's monitor socket, negotiates capabilities, runs commands matched by id
// and reports asynchronous events (SHUTDOWN, RESET, DEVICE_DELETED …). Protocol: one JSON object per line.
import { createConnection, type Socket } from 'node:net';
import { assert } from '../../base/assert.ts';

/** An asynchronous QMP event. */
export interface QmpEvent {
  readonly event: string;
  readonly data: Record<string, unknown>;
}

/** QEMU answered a command with an error; `errorClass` is QMP's class (GenericError, DeviceNotFound …). */
export class QmpError extends Error {
  override readonly name = 'QmpError';
  constructor(
    readonly command: string,
    readonly errorClass: string,
    description: string,
  ) {
    super(`QMP ${command}: ${errorClass}: ${description}`);
  }
}

interface Pending {
  readonly command: string;
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
}

/** One QMP session. QEMU accepts one client at a time; a new one can connect after this one closes. */
export class QmpClient {
  readonly #socket: Socket;
  readonly #pending = new Map<string, Pending>();
  readonly #eventListeners = new Set<(event: QmpEvent) => void>();
  readonly #closed: Promise<void>;
  #buffer = '';
  #nextId = 1;
  #greeted: ((greeting: unknown) => void) | null = null;
  #isClosed = false;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#onData(chunk));
    this.#closed = new Promise((resolve) => {
      socket.on('close', () => {
        this.#isClosed = true;
        for (const pending of this.#pending.values())
          pending.reject(new Error(`QMP ${pending.command}: connection closed`));
        this.#pending.clear();
        resolve();
      });
    });
    socket.on('error', () => socket.destroy());
  }

  /** Connects, reads the greeting and enters command mode; rejects if the socket fails or QEMU is silent. */
  static async connect(socketPath: string, timeoutMs: number): Promise<QmpClient> {
    const socket = createConnection(socketPath);
    const client = new QmpClient(socket);
    const greeting = new Promise<unknown>((resolve) => (client.#greeted = resolve));
    const failed = new Promise<never>((_, reject) => {
      socket.once('error', (error) => reject(error));
      void client.#closed.then(() => reject(new Error(`QMP ${socketPath}: closed during handshake`)));
    });
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`QMP ${socketPath}: no greeting within ${timeoutMs} ms`)),
        timeoutMs,
      );
    });
    try {
      await Promise.race([greeting, failed, timeout]);
      await Promise.race([client.execute('qmp_capabilities'), failed, timeout]);
    } catch (error) {
      socket.destroy();
      throw error;
    } finally {
      clearTimeout(timer);
    }
    return client;
  }

  /** Whether the connection has closed (QEMU exited, or close() was called). */
  get isClosed(): boolean {
    return this.#isClosed;
  }

  /** Resolves when the connection closes; when QEMU exits this is the first sign. */
  get closed(): Promise<void> {
    return this.#closed;
  }

  /** Runs one command and resolves with its `return` value; rejects with QmpError on an error reply. */
  execute<T = unknown>(command: string, args?: Record<string, unknown>): Promise<T> {
    if (this.#isClosed) return Promise.reject(new Error(`QMP ${command}: connection closed`));
    const id = `strata-${this.#nextId++}`;
    const message = JSON.stringify(
      args === undefined ? { execute: command, id } : { execute: command, arguments: args, id },
    );
    return new Promise<T>((resolve, reject) => {
      this.#pending.set(id, { command, resolve: resolve as (value: unknown) => void, reject });
      this.#socket.write(`${message}\n`);
    });
  }

  /** Subscribes to events; returns the unsubscribe function. */
  onEvent(listener: (event: QmpEvent) => void): () => void {
    this.#eventListeners.add(listener);
    return () => this.#eventListeners.delete(listener);
  }

  /** Resolves with the first event named `name` whose data passes `match`, or rejects after `timeoutMs`. */
  waitForEvent(
    name: string,
    timeoutMs: number,
    match: (data: Record<string, unknown>) => boolean = () => true,
  ): Promise<QmpEvent> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        unsubscribe();
        reject(new Error(`QMP: no ${name} event within ${timeoutMs} ms`));
      }, timeoutMs);
      const unsubscribe = this.onEvent((event) => {
        if (event.event !== name || !match(event.data)) return;
        clearTimeout(timer);
        unsubscribe();
        resolve(event);
      });
    });
  }

  /** Closes the connection; QEMU keeps running. */
  async close(): Promise<void> {
    this.#socket.end();
    this.#socket.destroy();
    await this.#closed;
  }

  #onData(chunk: string): void {
    this.#buffer += chunk;
    let newline = this.#buffer.indexOf('\n');
    while (newline >= 0) {
      const line = this.#buffer.slice(0, newline).trim();
      this.#buffer = this.#buffer.slice(newline + 1);
      if (line !== '') this.#onMessage(JSON.parse(line) as Record<string, unknown>);
      newline = this.#buffer.indexOf('\n');
    }
  }

  #onMessage(message: Record<string, unknown>): void {
    if ('QMP' in message) {
      assert(this.#greeted !== null, 'QMP greeting arrived twice');
      this.#greeted(message.QMP);
      this.#greeted = null;
      return;
    }
    if ('event' in message) {
      const event = { event: String(message.event), data: (message.data ?? {}) as Record<string, unknown> };
      for (const listener of [...this.#eventListeners]) listener(event);
      return;
    }
    const pending = this.#pending.get(String(message.id));
    if (pending === undefined) return; // a reply to a command of an earlier session
    this.#pending.delete(String(message.id));
    if ('error' in message) {
      const error = message.error as { class?: string; desc?: string };
      pending.reject(new QmpError(pending.command, error.class ?? 'Unknown', error.desc ?? ''));
    } else {
      pending.resolve(message.return);
    }
  }
}
