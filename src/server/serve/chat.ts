import type { ChatMessage } from '../../engine/types.js';
import { parseJsonBody } from '../http/body.js';
import type { Handler } from './context.js';
import { badRequest } from '../http/errors.js';
import { admitText } from './admission.js';
import { planGeneration, samplingInput } from './generate.js';
import { checkModel } from './models.js';
import { chatBodySchema, type ChatMessageBody } from './schemas.js';
import { serveGeneration, serveOptions } from './serve-generation.js';
import { chatShape } from './shapes.js';

/** OpenAI's message forms to the tokenizer's: text parts joined, `developer` read as `system`. */
export function toChatMessage(m: ChatMessageBody): ChatMessage {
  return {
    role: m.role === 'developer' ? 'system' : m.role,
    content:
      m.content === null ? '' : typeof m.content === 'string' ? m.content : m.content.map((p) => p.text).join(''),
  };
}

/** The messages' text, joined: what a prompt made of them holds at least. */
export function messagesText(messages: readonly ChatMessage[]): string {
  return messages.map((m) => m.content).join('\n');
}

/** POST /v1/chat/completions: messages through the model's chat template, with the generation prompt. */
export const chatCompletions: Handler = async (server, rc) => {
  const body = await parseJsonBody(rc.req, server.maxBodyBytes, chatBodySchema, rc.signal);
  checkModel(server, body.model);
  const messages = body.messages.map(toChatMessage);
  await admitText(server.engine.tokenizer, messagesText(messages), server.engine.contextLength, 'messages');
  let prompt: string;
  try {
    prompt = server.engine.tokenizer.applyChatTemplate(messages, { addGenerationPrompt: true });
  } catch (err) {
    throw badRequest(
      `messages: the model's chat template failed: ${err instanceof Error ? err.message : String(err)}`,
      'messages',
    );
  }
  const maxTokensParam = body.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
  const plan = planGeneration(server.engine, server.maxTokensLimit, {
    prompt,
    promptParam: 'messages',
    maxTokens: body.max_completion_tokens ?? body.max_tokens,
    maxTokensParam,
    ...samplingInput(body),
  });
  return serveGeneration(server, rc, chatShape, plan, serveOptions(body));
};
