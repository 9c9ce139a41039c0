import { parallelWidth, type Metrics } from '../orchestrator/metrics.js';

const tty = process.stdout.isTTY === true && !process.env.NO_COLOR;
const paint = (code: string) => (s: string) => (tty ? `\x1b[${code}m${s}\x1b[0m` : s);
export const dim = paint('2');
export const bold = paint('1');
export const cyan = paint('36');
export const green = paint('32');

/** One thread of a joined block, for display. */
export interface ThreadView {
  thread: string;
  text: string;
  tokens: number;
  ms: number;
  finishReason: string;
}

/** A block's threads grouped under one heading, each labelled, indented under a rail. */
export function renderBlock(block: number, threads: readonly ThreadView[]): string {
  const lines = [cyan(`┌─ parallel block ${block + 1}: ${threads.length} threads`)];
  threads.forEach((t) => {
    const cut = t.finishReason === 'stop' ? '' : `, ended by ${t.finishReason}`;
    lines.push(cyan(`├─ thread ${t.thread}`) + dim(` (${t.tokens} tokens, ${(t.ms / 1000).toFixed(2)} s${cut})`));
    const body = t.text.replace(/\n?<\/Thread>$/, '').replace(/^\s+/, '');
    for (const line of body.split('\n')) lines.push(cyan('│  ') + line);
  });
  lines.push(cyan('└─ joined'));
  return lines.join('\n');
}

export const times = (v: number | null): string => (v === null ? '–' : `${v.toFixed(2)}×`);
export const seconds = (ms: number): string => `${(ms / 1000).toFixed(2)} s`;

export function formatMetrics(m: Metrics): string {
  return [
    `tokens ${m.totalTokens}`,
    `critical path ${m.criticalPathTokens}`,
    `parallel width T/L ${times(parallelWidth(m))} (η ${m.acceleration.toFixed(3)})`,
    `${m.parallelBlocks} block${m.parallelBlocks === 1 ? '' : 's'}, ${m.threads} thread${m.threads === 1 ? '' : 's'}`,
    `prompt ${m.promptTokens} tokens`,
    `wall ${seconds(m.wallMs)}`,
  ].join(' · ');
}
