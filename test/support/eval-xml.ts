/** Checks that an SVG/XML text is well formed enough: tags balance, attributes are quoted, text has no raw `<` or bare `&`. */
export function assertWellFormed(xml: string): void {
  const stack: string[] = [];
  let last = 0;
  const tagRe = /<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>/g;
  for (const m of xml.matchAll(tagRe)) {
    const text = xml.slice(last, m.index);
    if (/[<>]/.test(text)) throw new Error(`stray markup near: ${text.slice(0, 60)}`);
    if (/&(?!(?:lt|gt|amp|quot|apos|#\d+);)/.test(text)) throw new Error(`bare & in: ${text.slice(0, 60)}`);
    last = m.index + m[0].length;
    const [, close, name, , selfClose] = m;
    if (close) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else if (!selfClose) stack.push(name!);
    if (stack.length === 0 && xml.slice(last).trim() !== '') throw new Error('content after the root element');
  }
  if (/[<>]/.test(xml.slice(last))) throw new Error('unparsed markup at the end');
  if (stack.length) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (!xml.trimStart().startsWith('<svg')) throw new Error('root is not <svg>');
}
