/**
 * The one comparison that names every setting in which two settings records differ: eval refuses
 * to resume a run folder made with other settings, `eval compare` warns about runs that differ,
 * and rollouts refuse a rerun the same way.
 */
import { isDeepStrictEqual } from 'node:util';
import { ThreadweaverError } from '../errors.js';

/** One setting whose stored value differs from this run's, as SettingsMismatchError lists them. */
export interface SettingDifference {
  /** In words: `temperature`, `top-p`, `model sha256`, … */
  setting: string;
  stored: unknown;
  now: unknown;
}

const LABELS: Record<string, string> = {
  topP: 'top-p',
  maxTokens: 'max tokens',
  promptStyle: 'prompt style',
  modelSha256: 'model sha256',
  modelFile: 'model file',
  seedBase: 'seed base',
  reward: 'reward config',
  gold: 'gold answer',
};

/** A setting's name in words (`topP` → `top-p`, `promptStyle` → `prompt style`). */
export function settingLabel(key: string): string {
  return LABELS[key] ?? key.replace(/[A-Z]/g, (c) => ' ' + c.toLowerCase());
}

/**
 * Every key whose values differ between two settings records (deep equality), in the order the
 * keys first appear. Keys in `skip` are not compared.
 */
export function differingSettings(
  stored: Readonly<Record<string, unknown>>,
  now: Readonly<Record<string, unknown>>,
  skip: readonly string[] = [],
): SettingDifference[] {
  const keys = [...new Set([...Object.keys(stored), ...Object.keys(now)])].filter((k) => !skip.includes(k));
  return keys
    .filter((k) => !isDeepStrictEqual(stored[k], now[k]))
    .map((k) => ({ setting: settingLabel(k), stored: stored[k], now: now[k] }));
}

const shown = (v: unknown): string => (v === undefined ? 'unset' : JSON.stringify(v));

/** `temperature 0 (this run: 0.6), prompt style "trained" (this run: "instructed")`. */
export function describeDifferences(diffs: readonly SettingDifference[], nowLabel = 'this run'): string {
  return diffs.map((d) => `${d.setting} ${shown(d.stored)} (${nowLabel}: ${shown(d.now)})`).join(', ');
}

/** A rerun whose settings differ from those of the samples already stored (CLI exit code 2). */
export class SettingsMismatchError extends ThreadweaverError {
  override name = 'SettingsMismatchError';
  constructor(
    message: string,
    readonly differences: readonly SettingDifference[],
  ) {
    super(message);
  }
}
