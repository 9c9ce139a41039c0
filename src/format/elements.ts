/**
 * A lenient scan of XML-like tags into a tree, for the formats whose blocks nest (Multiverse) or
 * whose structure is a run of sibling elements (Parallel-R1, NPR). Only the exact spellings
 * passed in are tags; any other `<...>` is text. Nothing is rejected: an element never closed
 * runs to the close of its parent (or the end of the text), a close tag with no open element of
 * its name is recorded as a stray. Validators read the tree and say what is wrong.
 */
export interface Element {
  /** The tag name (`Parallel` for `<Parallel>`); '' for the root. */
  name: string;
  /** Offset of `<Name>`. */
  start: number;
  /** Offset just past `<Name>`. */
  openEnd: number;
  /** Offset of `</Name>`, or where the element was cut off when unclosed. */
  closeStart: number;
  /** Offset just past `</Name>` (equal to closeStart when unclosed). */
  end: number;
  closed: boolean;
  children: Element[];
  parent: Element | null;
}

export interface StrayClose {
  name: string;
  start: number;
  end: number;
}

export interface ElementScan {
  root: Element;
  strays: StrayClose[];
}

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

/** Scan `text` for `<name>` / `</name>` of the given names. */
export function scanElements(text: string, names: readonly string[]): ElementScan {
  const root: Element = {
    name: '',
    start: 0,
    openEnd: 0,
    closeStart: text.length,
    end: text.length,
    closed: true,
    children: [],
    parent: null,
  };
  const strays: StrayClose[] = [];
  const stack: Element[] = [root];
  const re = new RegExp(`<(/?)(${names.map(escape).join('|')})>`, 'g');
  for (const m of text.matchAll(re)) {
    const at = m.index;
    const end = at + m[0].length;
    const name = m[2]!;
    if (m[1] === '') {
      const parent = stack[stack.length - 1]!;
      const el: Element = {
        name,
        start: at,
        openEnd: end,
        closeStart: text.length,
        end: text.length,
        closed: false,
        children: [],
        parent,
      };
      parent.children.push(el);
      stack.push(el);
      continue;
    }
    const depth = stack.findLastIndex((e, i) => i > 0 && e.name === name);
    if (depth < 0) {
      strays.push({ name, start: at, end });
      continue;
    }
    // Elements opened inside the one being closed and never closed end here.
    while (stack.length - 1 > depth) {
      const open = stack.pop()!;
      open.closeStart = at;
      open.end = at;
    }
    const el = stack.pop()!;
    el.closeStart = at;
    el.end = end;
    el.closed = true;
  }
  return { root, strays };
}

/** The text between an element's tags. */
export function innerText(text: string, el: Element): string {
  return text.slice(el.openEnd, el.closeStart);
}

/** Every element of a name under `el`, in document order (not descending into `stopAt` names). */
export function descendants(el: Element, name: string, stopAt: readonly string[] = []): Element[] {
  const out: Element[] = [];
  const walk = (e: Element) => {
    for (const c of e.children) {
      if (c.name === name) out.push(c);
      if (!stopAt.includes(c.name)) walk(c);
    }
  };
  walk(el);
  return out;
}

/** Nesting depth of an element: how many ancestors of `name` it has (itself excluded). */
export function depthOf(el: Element, name: string): number {
  let d = 0;
  for (let p = el.parent; p; p = p.parent) if (p.name === name) d++;
  return d;
}

/** The first non-whitespace text between two offsets, as an offset (or -1). */
export function strayTextAt(text: string, from: number, to: number): number {
  const i = text.slice(from, to).search(/\S/);
  return i < 0 ? -1 : from + i;
}
