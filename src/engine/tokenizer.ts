import type { PreTrainedTokenizer } from '@huggingface/transformers';
import { transformersJs } from './transformers-js.js';
import { hubLoadError, type ModelSource } from './model-source.js';
import type { ChatMessage, ChatTemplateOptions, Tokenizer } from './types.js';
import { EngineError } from './errors.js';

/** Our Tokenizer over a transformers.js tokenizer; special tokens are always kept when decoding. */
export class HFTokenizer implements Tokenizer {
  readonly eosIds: readonly number[];
  private readonly vocab: Map<string, number>;

  constructor(
    readonly inner: PreTrainedTokenizer,
    extraEos: readonly number[] = [],
  ) {
    this.vocab = inner.get_vocab();
    const eos = new Set<number>(extraEos);
    if (typeof inner.eos_token_id === 'number') eos.add(inner.eos_token_id);
    const imEnd = this.vocab.get('<|im_end|>');
    if (imEnd !== undefined) eos.add(imEnd);
    this.eosIds = [...eos];
  }

  encode(text: string): number[] {
    return this.inner.encode(text, { add_special_tokens: false });
  }

  decode(ids: readonly number[]): string {
    if (ids.length === 0) return ''; // transformers.js rejects an empty list
    return this.inner.decode([...ids], { skip_special_tokens: false, clean_up_tokenization_spaces: false });
  }

  count(text: string): number {
    return this.encode(text).length;
  }

  /** The tokenizer's own chat template (Jinja, from tokenizer_config.json or chat_template.jinja). */
  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (!this.inner.chat_template) throw new EngineError('tokenizer has no chat template', 'model');
    // tokenize: false and return_dict: false make the result the rendered string.
    return this.inner.apply_chat_template<false, false, false>(messages as ChatMessage[], {
      ...options.kwargs,
      tokenize: false,
      return_dict: false,
      add_generation_prompt: options.addGenerationPrompt ?? true,
    });
  }

  /**
   * This tokenizer with `tokens` as special tokens: those it lacks are appended after its last id
   * in the given order, as `tokenizer.add_special_tokens` does (a checkpoint that added the same
   * tokens to the same base vocabulary has the same ids). Tokens it has keep their ids.
   */
  withAddedTokens(tokens: readonly string[]): HFTokenizer {
    const missing = [...new Set(tokens)].filter((t) => !this.vocab.has(t));
    if (missing.length === 0) return this;
    const json = structuredClone(this.inner._tokenizerJSON) as { added_tokens?: AddedToken[] };
    const config = structuredClone(this.inner._tokenizerConfig) as {
      added_tokens_decoder?: Record<string, Omit<AddedToken, 'id'>>;
    };
    let next = 0;
    for (const id of this.vocab.values()) next = Math.max(next, id + 1);
    for (const content of missing) {
      const token: AddedToken = {
        id: next++,
        content,
        single_word: false,
        lstrip: false,
        rstrip: false,
        normalized: false,
        special: true,
      };
      (json.added_tokens ??= []).push(token);
      const { id, ...rest } = token;
      (config.added_tokens_decoder ??= {})[String(id)] = rest;
    }
    const Cls = this.inner.constructor as new (json: unknown, config: unknown) => PreTrainedTokenizer;
    return new HFTokenizer(new Cls(json, config), this.eosIds);
  }

  singleTokenId(text: string): number | undefined {
    const direct = this.vocab.get(text);
    if (direct !== undefined) return direct;
    const ids = this.encode(text);
    return ids.length === 1 ? ids[0] : undefined;
  }
}

interface AddedToken {
  id: number;
  content: string;
  single_word: boolean;
  lstrip: boolean;
  rstrip: boolean;
  normalized: boolean;
  special: boolean;
}

/** Load a tokenizer from a resolved model source (local folders never touch the network). */
export async function loadTokenizer(source: ModelSource): Promise<HFTokenizer> {
  const { AutoTokenizer, env } = await transformersJs();
  if (source.kind === 'local') {
    env.localModelPath = source.parent + '/';
    env.allowLocalModels = true;
    const inner = await AutoTokenizer.from_pretrained(source.name, { local_files_only: true });
    return new HFTokenizer(inner);
  }
  try {
    return new HFTokenizer(await AutoTokenizer.from_pretrained(source.id));
  } catch (err) {
    throw hubLoadError(source.id, err);
  }
}
