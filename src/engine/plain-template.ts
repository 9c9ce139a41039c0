import type { ChatMessage, Tokenizer } from './types.js';

/**
 * `tokenizer` with its chat template replaced by the bare message contents, joined by a blank
 * line: with no system message the prompt is exactly the problem text. For base models and
 * servers whose template should not be applied (`--chat-template none`).
 */
export function withoutChatTemplate(tokenizer: Tokenizer): Tokenizer {
  return {
    eosIds: tokenizer.eosIds,
    encode: (text) => tokenizer.encode(text),
    decode: (ids) => tokenizer.decode(ids),
    count: (text) => tokenizer.count(text),
    singleTokenId: (text) => tokenizer.singleTokenId(text),
    applyChatTemplate: (messages: readonly ChatMessage[]) => messages.map((m) => m.content).join('\n\n'),
  };
}
