import type { FinishReason } from '../engine/types.js';
import type { Trajectory } from './trajectory.js';

/** Typed events of one controller run (eventemitter3). */
export interface ControllerEvents {
  phase: (e: { phase: 'sequential' | 'parallel'; block?: number }) => void;
  /** Sequential text as it is generated. */
  delta: (e: { text: string }) => void;
  outlines: (e: { block: number; numbers: string[] }) => void;
  'thread:start': (e: { block: number; thread: string }) => void;
  'thread:delta': (e: { block: number; thread: string; text: string }) => void;
  'thread:end': (e: { block: number; thread: string; text: string; finishReason: FinishReason; tokens: number; ms: number }) => void;
  join: (e: { block: number; text: string }) => void;
  done: (e: { trajectory: Trajectory }) => void;
  error: (e: { error: Error }) => void;
}
