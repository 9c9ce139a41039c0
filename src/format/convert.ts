/**
 * Trajectories from one format to another, block by block, where a block maps one to one: its
 * plan entries, its threads and its reduce step are carried over and written in the target's
 * canonical bytes; the text between blocks is kept, the reasoning tags renamed when both formats
 * have their own. What does not map is refused with the reason, never approximated: a source that
 * fails its own strict check, a nested block for a format without nesting, a plan for a format
 * without one (unless dropped on request) or none where one is needed, a thread count the target
 * cannot run.
 *
 * ThreadWeaver has no reduce tag: its model writes the combination after `</Parallel>`. A reduce
 * step (Multiverse `<Conclusion>`, Parallel-R1 `<Summary>`, NPR `<takeaway>`) becomes the line
 * after `</Parallel>`, and the line after `</Parallel>` becomes the reduce step the other way, so
 * a one-line reduce step goes there and back unchanged.
 */
import type { BlockContent, Dialect, ForkBlock } from './dialect.js';

/** A converted trajectory, or the reason it cannot be converted without loss. */
export type Conversion = { ok: true; text: string } | { ok: false; reason: string };

/** What convertTrajectory may lose on request. */
export interface ConvertOptions {
  /** Drop the plan when the target has none (Parallel-R1): the outlines are lost. */
  dropPlan?: boolean;
}

/**
 * Convert a trajectory from one format to another, block by block, or say why it cannot be done
 * without loss. The source must pass its own strict check, and the result passes the target's.
 */
export function convertTrajectory(text: string, from: Dialect, to: Dialect, options: ConvertOptions = {}): Conversion {
  const refuse = (reason: string): Conversion => ({ ok: false, reason });
  const bad = from.validate(text);
  if (bad.length) return refuse(`not a valid ${from.title} trajectory: ${bad[0]!.message} (offset ${bad[0]!.offset})`);
  const blocks = from.parse(text).blocks;
  const rename = (s: string) =>
    from.think && to.think
      ? s.replaceAll(from.think.open, to.think.open).replaceAll(from.think.close, to.think.close)
      : s;

  let out = '';
  let cursor = 0;
  for (const [i, b] of blocks.entries()) {
    const where = `block ${i + 1}`;
    const nested = b.threads.findIndex((t) => t.blocks.length > 0);
    if (nested >= 0 && !to.nestable)
      return refuse(`${where} has a block nested in thread ${nested + 1}: ${to.title} blocks do not nest`);
    if (nested >= 0)
      return refuse(`${where} has a nested block: nested blocks are converted only between formats that nest alike`);
    const mapped = content(b, from, to, options);
    if (typeof mapped === 'string') return refuse(`${where}: ${mapped}`);
    let end = b.reduce ? Math.max(b.end, b.reduce.end) : b.end;
    let reduce = mapped.reduce;
    if (to.name !== 'threadweaver' && from.name === 'threadweaver') {
      // The line after `</Parallel>` is the reduce step.
      const line = /^\n([^\n<][^\n]*)/.exec(text.slice(end));
      if (!line) return refuse(`${where} is followed by no line to carry over as the ${reduceTag(to)}`);
      reduce = line[1]!;
      end += line[0].length;
    }
    out += rename(text.slice(cursor, b.start)) + to.renderBlock({ ...mapped, reduce });
    if (to.name === 'threadweaver' && reduce !== null) out += `\n${reduce}`;
    cursor = end;
  }
  out += rename(text.slice(cursor));
  const check = to.validate(out);
  if (check.length)
    return refuse(`the converted text fails the ${to.title} check: ${check[0]!.message} (offset ${check[0]!.offset})`);
  return { ok: true, text: out };
}

/** What a block says, as the target can write it, or why it cannot. */
function content(b: ForkBlock, from: Dialect, to: Dialect, o: ConvertOptions): BlockContent | string {
  const targetHasPlan = to.name !== 'parallel-r1';
  if (b.plan === null && targetHasPlan)
    return `${from.title} threads carry no plan, and ${to.title} needs one (it would have to be invented)`;
  if (b.plan !== null && !targetHasPlan && !o.dropPlan)
    return `${to.title} has no plan: the ${b.plan.length} plan entries would be lost (drop them on request)`;
  if (to.name === 'parallel-r1' && b.threads.length !== to.limits.maxThreads) {
    return `${b.threads.length} threads, and ${to.title} runs ${to.limits.maxThreads} paths per block (set paths=${b.threads.length})`;
  }
  if (from.name !== 'threadweaver' && b.reduce === null) return `no ${reduceTag(from)} to carry over`;
  if (to.name === 'threadweaver' && b.reduce !== null && b.reduce.text.includes('\n')) {
    return `its ${reduceTag(from)} spans several lines; ${to.title} would not give it back as one`;
  }
  return {
    plan: targetHasPlan ? b.plan!.map((p) => p.text) : null,
    threads: b.threads.map((t) => t.text),
    reduce: b.reduce?.text ?? null,
  };
}

function reduceTag(d: Dialect): string {
  return d.name === 'multiverse'
    ? '<Conclusion>'
    : d.name === 'parallel-r1'
      ? '<Summary>'
      : d.name === 'npr'
        ? '<takeaway>'
        : 'line after </Parallel>';
}
