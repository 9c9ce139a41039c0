/**
 * The tokenizer a GGUF file carries, through llama.cpp: text to ids with special tokens parsed,
 * ids to text with special tokens kept, and the chat template from the file's metadata
 * (`tokenizer.chat_template`, Jinja, rendered by the same engine transformers.js uses).
 */
import { Template } from '@huggingface/jinja';
import type { LlamaModel } from 'node-llama-cpp';
import { ThreadweaverError } from '../../errors.js';
import type { ChatMessage, ChatTemplateOptions, Tokenizer } from '../types.js';

export class GgufTokenizer implements Tokenizer {
  readonly eosIds: readonly number[];
  /** The chat template's Jinja source, when the file has one. */
  readonly chatTemplate: string | undefined;
  private template: Template | undefined;
  private readonly specials: Record<string, string>;

  constructor(
    private readonly model: LlamaModel,
    chatTemplate: string | undefined,
  ) {
    const eos = model.tokens.eos;
    // The file's own end-of-turn token; not llama.cpp's guess from token texts (it takes the tiny
    // model's <|endoftext|>, which tokenizer.json does not end generation on).
    const eot = model.fileInfo.metadata.tokenizer?.ggml?.eot_token_id;
    const eosSet = new Set<number>();
    if (eos !== null) eosSet.add(eos);
    if (typeof eot === 'number') eosSet.add(eot);
    // As HFTokenizer: a ChatML model's turn end ends generation even when the file names another EOS.
    const imEnd = this.singleTokenId('<|im_end|>');
    if (imEnd !== undefined) eosSet.add(imEnd);
    this.eosIds = [...eosSet];
    this.chatTemplate = chatTemplate;
    const text = (id: number | null) => (id === null ? undefined : this.decode([id]));
    this.specials = Object.fromEntries(
      Object.entries({ bos_token: text(model.tokens.bos), eos_token: text(eos) }).filter(([, v]) => v !== undefined),
    ) as Record<string, string>;
  }

  encode(text: string): number[] {
    return this.model.tokenize(text, true).map(Number);
  }

  decode(ids: readonly number[]): string {
    if (ids.length === 0) return '';
    return this.model.detokenize(ids as never, true);
  }

  count(text: string): number {
    return this.encode(text).length;
  }

  applyChatTemplate(messages: readonly ChatMessage[], options: ChatTemplateOptions = {}): string {
    if (this.chatTemplate === undefined)
      throw new ThreadweaverError('the GGUF file has no chat template (tokenizer.chat_template)');
    this.template ??= new Template(this.chatTemplate);
    return this.template.render({
      ...this.specials,
      ...options.kwargs,
      messages,
      add_generation_prompt: options.addGenerationPrompt ?? true,
    });
  }

  singleTokenId(text: string): number | undefined {
    if (text === '') return undefined;
    const ids = this.encode(text);
    // llama.cpp drops bytes it has no token for: a text that does not come back is not that token.
    return ids.length === 1 && this.decode(ids) === text ? ids[0] : undefined;
  }
}
