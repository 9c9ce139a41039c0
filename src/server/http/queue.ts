import { ApiError } from './errors.js';
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
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.maxActive && this.queued === 0) {
      this.active++;
      return Promise.resolve(this.releaser());
    }
    if (this.queued >= this.maxQueued) {
      return Promise.reject(
        new ApiError(
          503,
          `the server is overloaded (${this.active} running, ${this.queued} queued): retry later`,
          'server_error',
          null,
          'overloaded',
          {
            'Retry-After': '1',
          },
        ),
      );
    }
    return new Promise((resolve, reject) => {
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
