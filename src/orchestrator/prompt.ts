import { readFileSync } from 'node:fs';
import path from 'node:path';
import { packageRoot } from '../internal/package-root.js';
import type { ChatMessage, Tokenizer } from '../engine/types.js';
import type { DialectName } from '../format/dialect.js';
import { ThreadweaverError } from '../errors.js';

/**
 * How the problem is put to the model:
 * - `trained`: the format the model was trained on (the bundled model: the bare problem;
 *   sequential mode adds its sequential system message);
 * - `instructed`: a system prompt that teaches the tags, for models never trained on them.
 */
export type PromptStyle = 'trained' | 'instructed';

const cache = new Map<string, string>();

/** A plain-text template from `prompts/`, with `{{slot}}` replaced from `slots`. */
export function loadPrompt(name: string, slots: Record<string, string> = {}): string {
  let text = cache.get(name);
  if (text === undefined) {
    const file = path.join(packageRoot(), 'prompts', `${name}.txt`);
    text = readFileSync(file, 'utf8').replace(/\n$/, '');
    cache.set(name, text);
  }
  return text.replace(/\{\{(\w+)\}\}/g, (m, slot: string) => {
    const value = slots[slot];
    if (value === undefined) throw new ThreadweaverError(`prompt ${name}: no value for {{${slot}}}`);
    return value;
  });
}

/**
 * Everything about how a problem becomes the prompt, which a checkpoint was trained with and a
 * preset pins: the style, the text after the problem, whether sequential mode has its own system
 * message, and the variables the chat template reads.
 */
export interface PromptFormat {
  style: PromptStyle;
  /** Appended to the problem as is (ThreadWeaver's training prompt: one space, then the instruction). */
  suffix: string;
  /**
   * Trained style in sequential mode: put the `sequential-system` prompt as the system message
   * (the bundled model was trained with it). Off for checkpoints trained without a system prompt.
   */
  sequentialSystem: boolean;
  /** Variables for the chat template besides the messages (Qwen3's `enable_thinking`). */
  chatTemplateKwargs: Record<string, unknown>;
}

/**
 * The bundled model's prompt format (trained style, no suffix, the sequential system message),
 * which promptFormat completes partial formats with.
 */
export const DEFAULT_PROMPT_FORMAT: Readonly<PromptFormat> = {
  style: 'trained',
  suffix: '',
  sequentialSystem: true,
  chatTemplateKwargs: {},
};

/** A style or a partial format, completed with the defaults (today's bundled-model prompt). */
export function promptFormat(format: PromptStyle | Partial<PromptFormat> = {}): PromptFormat {
  return { ...DEFAULT_PROMPT_FORMAT, ...(typeof format === 'string' ? { style: format } : format) };
}

/**
 * The messages put to the model. `system` is the caller's own system text (a chat client's
 * system messages): it follows the mode's system prompt, if any, in the one system message, since
 * many chat templates accept a system message only first. `history` holds a conversation's
 * earlier user and assistant turns, which come before the problem as they are.
 */
export function promptMessages(
  problem: string,
  mode: 'parallel' | 'sequential',
  format: PromptStyle | Partial<PromptFormat> = 'trained',
  system?: string,
  dialect: DialectName = 'threadweaver',
  history: readonly ChatMessage[] = [],
): ChatMessage[] {
  const f = promptFormat(format);
  const parts: string[] = [];
  // The instructed prompt teaches the run's format (prompts/instructed-parallel[-FORMAT].txt).
  if (f.style === 'instructed')
    parts.push(
      loadPrompt(
        mode === 'sequential'
          ? 'instructed-sequential'
          : dialect === 'threadweaver'
            ? 'instructed-parallel'
            : `instructed-parallel-${dialect}`,
      ),
    );
  else if (mode === 'sequential' && f.sequentialSystem) parts.push(loadPrompt('sequential-system'));
  if (system) parts.push(system);
  const messages: ChatMessage[] = parts.length ? [{ role: 'system', content: parts.join('\n\n') }] : [];
  messages.push(...history, { role: 'user', content: problem + f.suffix });
  return messages;
}

/** The chat-templated prompt, ending with the assistant header (the model writes `<think>`). */
export function buildPrompt(
  tokenizer: Tokenizer,
  problem: string,
  mode: 'parallel' | 'sequential',
  format: PromptStyle | Partial<PromptFormat> = 'trained',
  system?: string,
  dialect: DialectName = 'threadweaver',
  history: readonly ChatMessage[] = [],
): string {
  const f = promptFormat(format);
  return tokenizer.applyChatTemplate(promptMessages(problem, mode, f, system, dialect, history), {
    addGenerationPrompt: true,
    kwargs: f.chatTemplateKwargs,
  });
}

/**
 * A prompt format with a style given on its own (a `--prompt-style` flag, solve's `promptStyle`)
 * over its own style: the one place the two are merged.
 */
export function withStyle(format: PromptFormat, style: PromptStyle | undefined): PromptFormat;
export function withStyle(
  format: Partial<PromptFormat> | undefined,
  style: PromptStyle | undefined,
): Partial<PromptFormat>;
export function withStyle(
  format: Partial<PromptFormat> | undefined,
  style: PromptStyle | undefined,
): Partial<PromptFormat> {
  return { ...format, ...(style ? { style } : {}) };
}
