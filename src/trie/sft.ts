import { TAG } from '../format/tags.js';
import { flattenTrie, type TrieLayout } from './flatten.js';
import { siblingThreads, type ThreadTagIds } from './sibling-threads.js';
import { TokenTrie } from './trie.js';
import { ThreadweaverError } from '../errors.js';

/** The one tokenizer capability the trie needs (a subset of the engine's Tokenizer). */
export interface TokenEncoder {
  encode(text: string): number[];
}

/** One SFT example: chat-templated prompt text and the assistant's trajectory. */
export interface PromptCompletion {
  prompt: string;
  completion: string;
}

/**
 * The SFT trie of one trajectory, as the bundled model was trained (stage 2):
 * - the joined trajectory is the main path: prompt tokens untrained, every completion token
 *   trained (the join's thread headers included);
 * - every thread after the first in a block is added again as a branch off that block's
 *   `</Outlines>`, prompted as the orchestrator prompts it (`\n<Thread>\n{n}:`, untrained) and
 *   followed by its body and `</Thread>` (trained). Branches never merge with the main path,
 *   so each keeps its own header tokens.
 * Tags must be single tokens (the split works on ids). The thread header ends at the first `:`.
 */
export function sftTrie(example: PromptCompletion, encoder: TokenEncoder): TokenTrie {
  const promptIds = encoder.encode(example.prompt);
  const main = [...promptIds, ...encoder.encode(example.completion)];
  const tags = threadTagIds(encoder);
  const newline = singleTokenId(encoder, '\n');
  const colon = singleTokenId(encoder, ':');

  const trie = new TokenTrie();
  trie.insert(main, { lossFrom: promptIds.length });
  for (const { anchor, open, close } of siblingThreads(main, tags)) {
    const headerEnd = main.indexOf(colon, open);
    if (headerEnd < 0 || headerEnd > close) {
      throw new ThreadweaverError(`the thread at token ${open} has no "n:" header before its ${TAG.threadClose}`);
    }
    const context = main.slice(0, anchor + 1);
    const branch = [newline, ...main.slice(open, close + 1)];
    const headerLength = 1 + headerEnd - open + 1;
    trie.insert([...context, ...branch], {
      lossFrom: context.length + headerLength,
      shareAtMost: context.length,
    });
  }
  return trie;
}

/** The flat SFT layout: the main path first, then the branches in order of appearance. */
export function sftLayout(example: PromptCompletion, encoder: TokenEncoder): TrieLayout {
  return flattenTrie(sftTrie(example, encoder), 'insertion');
}

/** The tag ids the branch split needs; throws when a tag is not one token. */
export function threadTagIds(encoder: TokenEncoder): ThreadTagIds {
  return {
    parallelOpen: singleTokenId(encoder, TAG.parallelOpen),
    parallelClose: singleTokenId(encoder, TAG.parallelClose),
    outlinesClose: singleTokenId(encoder, TAG.outlinesClose),
    threadOpen: singleTokenId(encoder, TAG.threadOpen),
    threadClose: singleTokenId(encoder, TAG.threadClose),
  };
}

function singleTokenId(encoder: TokenEncoder, text: string): number {
  const ids = encoder.encode(text);
  if (ids.length !== 1) {
    throw new ThreadweaverError(
      `${JSON.stringify(text)} encodes to ${ids.length} tokens; the trie layout needs it as one token ` +
        `(add the trajectory tags to the tokenizer as added tokens)`,
    );
  }
  return ids[0]!;
}
