import type { FinishReason } from '../engine/types.js';
import type { LimitHit, Trajectory } from './trajectory.js';

/** The thread a nested block was opened in. */
export interface ParentThread {
  block: number;
  thread: string;
}

/** Typed events of one controller run (eventemitter3). */
export interface ControllerEvents {
  phase: (e: { phase: 'sequential' | 'parallel'; block?: number }) => void;
  /** Sequential text as it is generated. */
  delta: (e: { text: string }) => void;
  /** A plan read: the threads about to start (`parent` for a block nested in a thread). */
  outlines: (e: { block: number; numbers: string[]; parent?: ParentThread }) => void;
  'thread:start': (e: { block: number; thread: string; parent?: ParentThread }) => void;
  'thread:delta': (e: { block: number; thread: string; text: string }) => void;
  'thread:end': (e: { block: number; thread: string; text: string; finishReason: FinishReason; tokens: number; ms: number }) => void;
  join: (e: { block: number; text: string }) => void;
  /**
   * The trajectory grew, in trajectory order: a call's output once the call ends (a block's
   * threads when it joins), or text the controller inserted (thread headers, closing tags).
   * Joined, these pieces are exactly the trajectory's text.
   */
  text: (e: { text: string; source: 'model' | 'inserted'; tokens: number }) => void;
  /** A rail was enforced: a plan cut to the thread limit, a fork refused past the depth or block limit, a thread closed at its token cap. */
  limit: (e: LimitHit) => void;
  done: (e: { trajectory: Trajectory }) => void;
  error: (e: { error: Error }) => void;
}

/** Every event name, checked against ControllerEvents so a new event cannot be missed. */
const EVENT_NAMES: Record<keyof ControllerEvents, true> = {
  phase: true,
  delta: true,
  outlines: true,
  'thread:start': true,
  'thread:delta': true,
  'thread:end': true,
  join: true,
  text: true,
  limit: true,
  done: true,
  error: true,
};
export const CONTROLLER_EVENTS = Object.keys(EVENT_NAMES) as (keyof ControllerEvents)[];

/** One controller event as a tagged object, e.g. `{ type: 'thread:delta', block, thread, text }`. */
export type ControllerEvent = { [K in keyof ControllerEvents]: { type: K } & Parameters<ControllerEvents[K]>[0] }[keyof ControllerEvents];
