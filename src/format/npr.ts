/**
 * Native Parallel Reasoner, NPR (arXiv 2512.07461; bigai-nlco/Native-Parallel-Reasoner).
 * Established from public material: the tags `<guideline>`, `<plan>`, `<step>`, `<takeaway>`;
 * plan entries and steps numbered `N:`; one step per plan entry, written as if blind to its
 * siblings; several guideline/step/takeaway rounds per answer, the answer in `\boxed{}` (the
 * repo's README and the survey in ../shared/reference/peers.md of its snapshot); `</guideline>`
 * and `</step>` as the parallel engine's stop words (the repo's issue #2); its engine's split and
 * merge are Multiverse's (the README's acknowledgment, peers.md).
 * Not established (the prompt file `eval/prompts/npr.txt` and the engine's merge code were not in
 * the material we could read): the whitespace around entries, the bytes a step's prompt starts
 * with, and what is inserted at the merge. We follow the Multiverse engine: each step starts from
 * the context through `</guideline>` plus `\n<step>\n{n}:`, steps are joined back to back, then a
 * newline; the model writes `<takeaway>` itself. What a step ending in EOS does is not
 * established either: we apply the reference rule (close, end the run).
 */
import { labelled, numbersAfter, type BlockContent, type Dialect, type ForkBlock, type ForkTree } from './dialect.js';
import { elementThread, numberingViolations, strayOutside, unclosedViolations } from './element-rules.js';
import { innerText, scanElements, strayTextAt, type Element } from './elements.js';
import type { Violation } from './validate.js';
import { FormatError } from './errors.js';

const NAMES = ['guideline', 'plan', 'step', 'takeaway'] as const;
const PLAN_RE = /<plan>\s*([0-9]+(?:\.[0-9]+)*)\s*:/g;

export function npr(options: { maxThreads?: number } = {}): Dialect {
  return {
    name: 'npr',
    title: 'NPR',
    tags: NAMES.flatMap((n) => [`<${n}>`, `</${n}>`]),
    think: null,
    forkTrigger: '</guideline>',
    plan: (text) => numbersAfter(text, '<guideline>', PLAN_RE),
    threadPrompt: (label) => `\n<step>\n${label}:`,
    threadStop: '</step>',
    closesThread: () => true,
    joinHeader: (label) => `\n<step>\n${label}:`,
    threadCloser: '\n</step>',
    joinEnd: '\n',
    // A round has no enclosing tag: closing its steps closes it.
    blockCloser: '',
    threadEos: 'end',
    nestable: false,
    limits: { maxDepth: 1, maxThreads: options.maxThreads ?? 50, maxBlocks: null, maxThreadTokens: null },
    parse,
    validate,
    renderBlock,
  };
}

/** A round: a guideline, the steps right after it, and the takeaway right after them. */
interface Round {
  guideline: Element;
  steps: Element[];
  takeaway?: Element;
}

function rounds(text: string, root: Element): Round[] {
  const out: Round[] = [];
  const kids = root.children;
  for (let i = 0; i < kids.length; i++) {
    if (kids[i]!.name !== 'guideline') continue;
    const round: Round = { guideline: kids[i]!, steps: [] };
    let prev = kids[i]!;
    let j = i + 1;
    for (; j < kids.length && kids[j]!.name === 'step' && strayTextAt(text, prev.end, kids[j]!.start) < 0; j++) {
      round.steps.push(kids[j]!);
      prev = kids[j]!;
    }
    const next = kids[j];
    if (next?.name === 'takeaway' && round.steps.length > 0 && strayTextAt(text, prev.end, next.start) < 0)
      round.takeaway = next;
    out.push(round);
  }
  return out;
}

function parse(text: string): ForkTree {
  const { root } = scanElements(text, NAMES);
  const blocks: ForkBlock[] = rounds(text, root).map(({ guideline, steps, takeaway }) => {
    const end = steps.length ? steps[steps.length - 1]!.end : guideline.end;
    return {
      start: guideline.start,
      end,
      innerStart: guideline.start,
      innerEnd: end,
      closed: guideline.closed && steps.every((s) => s.closed),
      plan: guideline.children.filter((c) => c.name === 'plan').map((p) => labelled(innerText(text, p))),
      threads: steps.map((s) => elementThread(text, s)),
      reduce: takeaway ? { start: takeaway.start, end: takeaway.end, text: innerText(text, takeaway).trim() } : null,
      depth: 1,
    };
  });
  return { source: text, blocks };
}

function validate(text: string): Violation[] {
  const { root, strays } = scanElements(text, NAMES);
  const out: Violation[] = unclosedViolations(root);
  for (const s of strays)
    out.push({ code: 'tag-unmatched', offset: s.start, message: `</${s.name}> without an open <${s.name}>` });
  const walk = (el: Element) => {
    for (const c of el.children) {
      if (c.name === 'plan' ? el.name !== 'guideline' : el.name !== '') {
        out.push({
          code: c.name === 'guideline' ? 'parallel-nested' : 'tag-misplaced',
          offset: c.start,
          message: `<${c.name}> inside <${el.name || 'the text'}>`,
        });
      }
      walk(c);
    }
  };
  walk(root);
  const inRound = new Set<Element>();
  for (const r of rounds(text, root)) {
    const plans = r.guideline.children.filter((c) => c.name === 'plan');
    if (plans.length === 0)
      out.push({ code: 'plan-missing', offset: r.guideline.start, message: '<guideline> has no <plan>' });
    const stray = strayOutside(text, r.guideline, plans);
    if (stray >= 0)
      out.push({ code: 'block-order', offset: stray, message: 'text in a <guideline> outside its plans' });
    if (r.steps.length === 0)
      out.push({ code: 'thread-missing', offset: r.guideline.end, message: 'no <step> right after </guideline>' });
    else if (!r.takeaway)
      out.push({
        code: 'reduce-missing',
        offset: r.steps[r.steps.length - 1]!.end,
        message: 'no <takeaway> right after the steps',
      });
    out.push(
      ...numberingViolations(text, plans, r.steps, {
        plan: 'plan',
        thread: 'step',
        planFormat: 'plan-format',
        planNumbering: 'plan-numbering',
        count: 'thread-count',
        maxThreads: 50,
      }),
    );
    [r.guideline, ...r.steps, ...(r.takeaway ? [r.takeaway] : [])].forEach((e) => inRound.add(e));
  }
  for (const c of root.children) {
    if ((c.name === 'step' || c.name === 'takeaway') && !inRound.has(c))
      out.push({ code: 'tag-misplaced', offset: c.start, message: `<${c.name}> not part of a guideline round` });
  }
  return out.sort((a, b) => a.offset - b.offset);
}

function renderBlock(block: BlockContent): string {
  if (block.plan === null) throw new FormatError('npr rounds need a plan');
  const plans = block.plan.map((p, i) => `<plan>${i + 1}: ${p}</plan>\n`).join('');
  const steps = block.threads.map((t, i) => `\n<step>\n${i + 1}: ${t}\n</step>`).join('');
  return `<guideline>\n${plans}</guideline>${steps}\n<takeaway>${block.reduce ?? ''}</takeaway>`;
}
