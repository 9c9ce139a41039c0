export { TokenTrie, trieFromCalls, type TrieNode, type TrieCall, type InsertOptions } from './trie.js';
export { flattenTrie, type TrieLayout, type FlattenOrder } from './flatten.js';
export { ancestorIntervals, canAttend, denseMask, type AncestorIntervals } from './mask.js';
export { siblingThreads, type SiblingThread, type ThreadTagIds } from './sibling-threads.js';
export { sftLayout, sftTrie, threadTagIds, type PromptCompletion, type TokenEncoder } from './sft.js';
