import { ThreadweaverError } from '../../errors.js';

/** node-llama-cpp is not installed, or has no native build that loads on this machine. */
export class LlamaCppUnavailableError extends ThreadweaverError {
  override name = 'LlamaCppUnavailableError';
}

/** What `gpu` may name: `auto` (Metal, CUDA or Vulkan when its build is installed and a device is found, else the CPU), a backend, or `false` (the CPU). */
export type LlamaGpu = 'auto' | 'metal' | 'cuda' | 'vulkan' | false;
