import type { Tokenizer } from '../../src/engine/types.js';
import { ScriptedEngine } from './scripted-engine.js';

// A test engine that replays one example trajectory of a model token by token. It knows the
// trajectory (the joined text the model's own engine would produce) and, from the project's
// engine code, where the model forks and how a thread's prompt starts; nothing of our dialects.
// Given a context it finds where the model stands in the trajectory and writes what follows:
// the sequential text after a joined prefix, or a thread's text after its header (a context that
// is the shared prefix up to a fork point plus that thread's prompt, and for a thread that goes
// on after a nested block, its own text so far). A context the trajectory does not explain gets
// an immediate EOS, as a model off its training distribution might stop.

export const EOS = '<|im_end|>';
const CHAT = ['<|endoftext|>', '<|im_start|>', EOS, '<unk>'];
const ASSISTANT = '<|im_start|>assistant\n';

/** Characters are tokens; chat markers and the format's tags are single tokens (added tokens, as the checkpoints have). */
export class TagTokenizer implements Tokenizer {
  readonly eosIds = [2];
  private readonly specials: string[];
  private readonly split: RegExp;

  constructor(tags: readonly string[]) {
    this.specials = [...CHAT, ...tags];
    this.split = new RegExp(
      `(${[...this.specials]
        .sort((a, b) => b.length - a.length)
        .map((s) => s.replace(/[|/<>]/g, (c) => '\\' + c))
        .join('|')})`,
    );
  }
  encode(text: string): number[] {
    const ids: number[] = [];
    for (const part of text.split(this.split)) {
      if (!part) continue;
      const special = this.specials.indexOf(part);
      if (special >= 0) ids.push(special);
      else for (const ch of part) ids.push(1000 + ch.codePointAt(0)!);
    }
    return ids;
  }
  decode(ids: readonly number[]): string {
    return ids.map((id) => (id < 1000 ? this.specials[id]! : String.fromCodePoint(id - 1000))).join('');
  }
  count(text: string): number {
    return this.encode(text).length;
  }
  applyChatTemplate(messages: readonly { role: string; content: string }[]): string {
    return messages.map((m) => `<|im_start|>${m.role}\n${m.content}${EOS}\n`).join('') + ASSISTANT;
  }
  singleTokenId(text: string): number | undefined {
    const i = this.specials.indexOf(text);
    return i >= 0 ? i : undefined;
  }
}

export interface ReplayFacts {
  /** The format's tags (single tokens). */
  tags: readonly string[];
  /** Where the model's engine forks: the trajectory positions just past these strings. */
  forkAt: readonly string[];
  /** A thread's prompt at the start of what follows a fork point (its header as the trajectory holds it is this match, trimmed at the start). */
  header: RegExp;
  /** Tags that open and close a block: a header is looked up in its own block, not a nested one. */
  blockOpen?: string;
  blockClose?: string;
}

/** The scripted engine (token by token, stops, budget, abort), its script the trajectory. */
export class ReplayEngine extends ScriptedEngine {
  override readonly tokenizer: TagTokenizer;
  private readonly seen = new Map<string, number>();

  constructor(
    readonly trajectory: string,
    private readonly facts: ReplayFacts,
    options: { contextLength?: number } = {},
  ) {
    const at = { locate: (_: string) => -1 };
    super((context) => {
      const j = at.locate(context);
      return j < 0 ? EOS : trajectory.slice(j) + EOS;
    }, options);
    at.locate = (context) => this.locate(context);
    this.tokenizer = new TagTokenizer(facts.tags);
  }

  /** Where in the trajectory the model continues from, for the context after the assistant header; -1 when it is not there. */
  locate(context: string): number {
    const j0 = context.indexOf(ASSISTANT);
    const r = j0 < 0 ? context : context.slice(j0 + ASSISTANT.length);
    // The n-th request with the very same context is the n-th sibling with that prompt.
    const n = this.seen.get(r) ?? 0;
    this.seen.set(r, n + 1);
    const J = this.trajectory;
    let i = 0;
    let j = 0;
    let from = 0;
    for (;;) {
      while (i < r.length && j < J.length && r[i] === J[j]) {
        i++;
        j++;
      }
      if (i === r.length && (n === 0 || from > 0)) return j;
      // A thread: back to the fork point, then jump to this thread's header in the trajectory.
      let back = j;
      while (back > from && !this.facts.forkAt.some((f) => J.slice(0, back).endsWith(f))) back--;
      if (back <= from && !this.facts.forkAt.some((f) => J.slice(0, back).endsWith(f))) return -1;
      i -= j - back;
      j = back;
      const m = this.facts.header.exec(r.slice(i));
      if (!m) return -1;
      const header = m[0].trimStart();
      const at = this.headers(j, header)[i + m[0].length === r.length ? n : 0];
      if (at === undefined) return -1;
      i += m[0].length;
      j = at + header.length;
      from = j;
    }
  }

  /** Offsets of `header` after `from` in the block open there (nested blocks skipped). */
  private headers(from: number, header: string): number[] {
    const J = this.trajectory;
    const { blockOpen, blockClose } = this.facts;
    const out: number[] = [];
    let depth = 0;
    for (let k = from; k < J.length; k++) {
      if (blockOpen && J.startsWith(blockOpen, k)) depth++;
      else if (blockClose && J.startsWith(blockClose, k) && --depth < 0) break;
      else if (depth === 0 && J.startsWith(header, k)) out.push(k);
    }
    return out;
  }
}
