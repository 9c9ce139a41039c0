import { AutoTokenizer, env, type PreTrainedTokenizer } from '@huggingface/transformers';
import { hubLoadError, type ModelSource } from './model-source.js';
import type { ChatMessage, Tokenizer } from './types.js';

/** Our Tokenizer over a transformers.js tokenizer; special tokens are always kept when decoding. */
export class HFTokenizer implements Tokenizer {
  readonly eosIds: readonly number[];
  private readonly vocab: Map<string, number>;

  constructor(readonly inner: PreTrainedTokenizer, extraEos: readonly number[] = []) {
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

  applyChatTemplate(messages: readonly ChatMessage[], options: { addGenerationPrompt?: boolean } = {}): string {
    if (!this.inner.chat_template) throw new Error('tokenizer has no chat template');
    return this.inner.apply_chat_template(messages as ChatMessage[], {
      tokenize: false,
      add_generation_prompt: options.addGenerationPrompt ?? true,
    }) as string;
  }

  singleTokenId(text: string): number | undefined {
    const direct = this.vocab.get(text);
    if (direct !== undefined) return direct;
    const ids = this.encode(text);
    return ids.length === 1 ? ids[0] : undefined;
  }
}

/** Load a tokenizer from a resolved model source (local folders never touch the network). */
export async function loadTokenizer(source: ModelSource): Promise<HFTokenizer> {
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
