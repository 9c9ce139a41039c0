import { randomUUID } from 'node:crypto';
import type { Engine } from './types.js';

/**
 * An engine that can bind related calls together: every call through `session(key)` goes to
 * the same backend while it is healthy, so one problem's growing context keeps hitting one
 * server's prefix cache. Sessions with the same key share the binding.
 */
export interface SessionEngine extends Engine {
  session(key: string): Engine;
}

export function hasSessions(engine: Engine): engine is SessionEngine {
  return typeof (engine as Partial<SessionEngine>).session === 'function';
}

/** `engine.session(key)` when the engine has sessions, else `engine` itself. */
export function bindSession(engine: Engine, key: string): Engine {
  return hasSessions(engine) ? engine.session(key) : engine;
}

/**
 * What a sample's key may be: printable ASCII without spaces (it travels in HTTP headers), at
 * most 200 characters (routers cap session ids: NVIDIA Dynamo at 256 bytes, with room left for
 * a block's suffix).
 */
export const AFFINITY_KEY = /^[\x21-\x7e]{1,200}$/;

/** A fresh key for a sample that was given none: one problem's calls, different from any other's. */
export function newAffinityKey(): string {
  return `tw-${randomUUID().replace(/-/g, '')}`;
}
