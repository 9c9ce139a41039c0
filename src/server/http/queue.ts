import { ApiError } from './errors.js';
import { SseComment } from './response.js';

/** A place in the queue: `ready` resolves to the function that gives the slot back. */
export interface QueueTicket {
  ready: Promise<() => void>;
  /** Its place among the waiting when it joined (1: next); 0: it runs at once. */
  position: number;
}

/** How often a streamed request that waits for its slot is sent an SSE comment. */
export const WAITING_COMMENT_MS = 5_000;
import { ThreadweaverError } from '../../errors.js';

/** Called when the waiter is given its slot. */
type Waiter = () => void;

/**
 * Admission for generations: at most `maxActive` run at once; the rest wait, at most `maxQueued`
 * of them. Waiters are served round-robin across clients (one per client in turn, FIFO within a
 * client), so one client flooding the server cannot starve another's requests.
 */
export class FairQueue {
  private active = 0;
  private queued = 0;
  // Map order is the rotation: the client at the front is served next, then moves to the back.
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(
    readonly maxActive: number,
    readonly maxQueued: number,
  ) {
    if (!(maxActive >= 1)) throw new ThreadweaverError(`FairQueue: maxActive must be at least 1, got ${maxActive}`);
    if (!(maxQueued >= 0)) throw new ThreadweaverError(`FairQueue: maxQueued must be at least 0, got ${maxQueued}`);
  }

  get stats(): { active: number; queued: number } {
    return { active: this.active, queued: this.queued };
  }

  /**
   * Wait for a slot; resolves to the function that gives it back (call it exactly once).
   * Rejects with a 503 when the queue is full, or with the signal's reason when aborted while waiting.
   */
  acquire(client: string, signal?: AbortSignal): Promise<() => void> {
    try {
      return this.enqueue(client, signal).ready;
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /**
   * acquire(), with a full queue (or an aborted signal) refused at once: thrown rather than a
   * rejected promise, so that a streamed answer can still be a 503 before its head goes out.
   */
  enqueue(client: string, signal?: AbortSignal): QueueTicket {
    if (signal?.aborted) throw signal.reason;
    if (this.active < this.maxActive && this.queued === 0) {
      this.active++;
      return { ready: Promise.resolve(this.releaser()), position: 0 };
    }
    if (this.queued >= this.maxQueued) {
      throw new ApiError(
        503,
        `the server is overloaded (${this.active} running, ${this.queued} queued): retry later`,
        'server_error',
        null,
        'overloaded',
        { 'Retry-After': '1' },
      );
    }
    const position = this.queued + 1;
    const ready = new Promise<() => void>((resolve, reject) => {
      const onAbort = () => {
        this.remove(client, waiter);
        reject(signal!.reason);
      };
      const waiter: Waiter = () => {
        signal?.removeEventListener('abort', onAbort);
        resolve(this.releaser());
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      const list = this.waiting.get(client);
      if (list) list.push(waiter);
      else this.waiting.set(client, [waiter]);
      this.queued++;
    });
    return { ready, position };
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.active--;
      this.next();
    };
  }

  private next(): void {
    while (this.active < this.maxActive) {
      const first = this.waiting.entries().next();
      if (first.done) return;
      const [client, list] = first.value;
      const waiter = list.shift()!;
      this.waiting.delete(client);
      if (list.length > 0) this.waiting.set(client, list);
      this.queued--;
      this.active++;
      waiter();
    }
  }

  private remove(client: string, waiter: Waiter): void {
    const list = this.waiting.get(client);
    const i = list?.indexOf(waiter) ?? -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.waiting.delete(client);
    this.queued--;
  }
}

/**
 * Wait for a ticket's slot inside an SSE stream: the head goes out at once (''), and while the
 * request waits, an SSE comment at once and every `everyMs`, so that proxies with a
 * time-to-first-byte or idle limit keep the connection. Returns the release function.
 */
export async function* waitInStream(
  ticket: QueueTicket,
  everyMs = WAITING_COMMENT_MS,
): AsyncGenerator<'' | SseComment, () => void, undefined> {
  // A stream closed while it waits (its client gone) gives back a slot it is handed later.
  let release: (() => void) | undefined;
  let closed = false;
  const got = ticket.ready.then((r) => {
    release = r;
    if (closed) r();
  });
  got.catch(() => {});
  let handedOver = false;
  try {
    yield '';
    if (ticket.position > 0) {
      yield new SseComment(`waiting for a slot (number ${ticket.position} in the queue)`);
      for (;;) {
        let timer: NodeJS.Timeout | undefined;
        const tick = new Promise<'tick'>((resolve) => (timer = setTimeout(() => resolve('tick'), everyMs)));
        const won = await Promise.race([got.then(() => 'ready' as const), tick]).finally(() => clearTimeout(timer));
        if (won === 'ready') break;
        yield new SseComment('waiting for a slot');
      }
    }
    await got;
    handedOver = true;
    return release!;
  } finally {
    if (!handedOver) {
      closed = true;
      release?.();
    }
  }
}
