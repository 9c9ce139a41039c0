import type { EventEmitter } from 'eventemitter3';
import type { FinishReason } from '../engine/types.js';
import type { LimitHit, Trajectory } from './trajectory.js';

/** The thread a nested block was opened in. */
export interface ParentThread {
  block: number;
  thread: string;
}

/**
 * Every event of one controller run, as a tagged object (what `solveStream` yields). This union
 * is the one definition: the listener map (ControllerEvents) and the list of names derive from it.
 */
export type ControllerEvent =
  | { type: 'phase'; phase: 'sequential' | 'parallel'; block?: number }
  /** Sequential text as it is generated. */
  | { type: 'delta'; text: string }
  /** A plan read: the threads about to start (`parent` for a block nested in a thread). */
  | { type: 'outlines'; block: number; numbers: string[]; parent?: ParentThread }
  | { type: 'thread:start'; block: number; thread: string; parent?: ParentThread }
  | { type: 'thread:delta'; block: number; thread: string; text: string }
  | {
      type: 'thread:end';
      block: number;
      thread: string;
      text: string;
      finishReason: FinishReason;
      tokens: number;
      ms: number;
    }
  | { type: 'join'; block: number; text: string }
  /**
   * The trajectory grew, in trajectory order: a call's output once the call ends (a block's
   * threads when it joins), or text the controller inserted (thread headers, closing tags).
   * Joined, these pieces are exactly the trajectory's text.
   */
  | { type: 'text'; text: string; source: 'model' | 'inserted'; tokens: number }
  /** A rail was enforced: a plan cut to the thread limit, a fork refused past the depth or block limit, a thread closed at its token cap. */
  | ({ type: 'limit' } & LimitHit)
  | { type: 'done'; trajectory: Trajectory }
  | { type: 'error'; error: Error };

/** The name (`type` tag) of a controller event. */
export type ControllerEventName = ControllerEvent['type'];

/** What a listener of event `K` receives: the tagged object without its tag. */
export type ControllerEventPayloads = { [E in ControllerEvent as E['type']]: Omit<E, 'type'> };

/** Typed listeners of the controller's events (eventemitter3), one per member of ControllerEvent. */
export type ControllerEvents = { [K in ControllerEventName]: (e: ControllerEventPayloads[K]) => void };

/** The member of ControllerEvent tagged `K`. */
export type ControllerEventOf<K extends ControllerEventName> = {
  [P in ControllerEventName]: { type: P } & ControllerEventPayloads[P];
}[K];

/**
 * How each event reaches a tagged-event handler. The type requires an entry per event, so a new
 * member of ControllerEvent cannot be left out (eventemitter3's types cannot follow one generic
 * name, hence an entry per event rather than a loop).
 */
const TAGGERS: {
  [K in ControllerEventName]: (emitter: EventEmitter<ControllerEvents>, handle: (e: ControllerEvent) => void) => void;
} = {
  phase: (em, handle) => em.on('phase', (e) => handle({ type: 'phase', ...e })),
  delta: (em, handle) => em.on('delta', (e) => handle({ type: 'delta', ...e })),
  outlines: (em, handle) => em.on('outlines', (e) => handle({ type: 'outlines', ...e })),
  'thread:start': (em, handle) => em.on('thread:start', (e) => handle({ type: 'thread:start', ...e })),
  'thread:delta': (em, handle) => em.on('thread:delta', (e) => handle({ type: 'thread:delta', ...e })),
  'thread:end': (em, handle) => em.on('thread:end', (e) => handle({ type: 'thread:end', ...e })),
  join: (em, handle) => em.on('join', (e) => handle({ type: 'join', ...e })),
  text: (em, handle) => em.on('text', (e) => handle({ type: 'text', ...e })),
  limit: (em, handle) => em.on('limit', (e) => handle({ type: 'limit', ...e })),
  done: (em, handle) => em.on('done', (e) => handle({ type: 'done', ...e })),
  error: (em, handle) => em.on('error', (e) => handle({ type: 'error', ...e })),
};

/** Every event name, in the order of ControllerEvent. */
export const CONTROLLER_EVENTS = Object.keys(TAGGERS) as ControllerEventName[];

/** Call `handle` with every event of `emitter` as a tagged object, in emission order. */
export function onControllerEvents(
  emitter: EventEmitter<ControllerEvents>,
  handle: (e: ControllerEvent) => void,
): void {
  for (const name of CONTROLLER_EVENTS) TAGGERS[name](emitter, handle);
}

/** Hand a tagged event to its listener in `listeners`, if there is one. */
export function deliverEvent<K extends ControllerEventName>(
  listeners: Partial<ControllerEvents>,
  e: ControllerEventOf<K>,
): void {
  listeners[e.type]?.(e);
}
