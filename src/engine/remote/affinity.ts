import type { CallAffinity } from '../types.js';

/**
 * How a remote engine tells a router which sample a request belongs to: the key in these
 * headers and, with `user`, in the body's `user` field (the OpenAI field the vLLM router also
 * hashes on). `none`: nothing is sent.
 */
export type AffinityPolicy = 'none' | { headers: readonly string[]; user: boolean };

/**
 * The headers the key goes in by default, what the routers people run read: the vLLM router's `consistent_hash` policy and
 * production-stack's session routing `X-Session-ID`, the SGLang model gateway `X-SMG-Routing-Key`,
 * HAProxy and nginx whatever they are told to hash on (docs/scale-out.md).
 */
export const DEFAULT_AFFINITY_HEADERS = ['X-Session-ID', 'X-SMG-Routing-Key'] as const;

/** What a remote engine sends unless told otherwise: the key in the default headers and in `user`. */
export const DEFAULT_AFFINITY_POLICY: AffinityPolicy = { headers: DEFAULT_AFFINITY_HEADERS, user: true };

/**
 * Routers that document a parent session, by the header that carries the session: NVIDIA
 * Dynamo's frontend reads `X-Dynamo-Parent-Session-ID` beside `X-Dynamo-Session-ID`. The
 * session stays the sample's key on every call (what keeps the sample on one worker); a
 * thread's call names the block it forked from as its parent.
 */
const LINEAGE_HEADERS: Record<string, string> = {
  'x-dynamo-session-id': 'X-Dynamo-Parent-Session-ID',
};

/** The policy the CLI flags ask for: the default headers and `headers` (repeats dropped, case-insensitively), or `none`. */
export function affinityPolicy(o: { none?: boolean; headers?: readonly string[] } = {}): AffinityPolicy {
  if (o.none) return 'none';
  const headers: string[] = [];
  for (const h of [...DEFAULT_AFFINITY_HEADERS, ...(o.headers ?? [])]) {
    if (!headers.some((x) => x.toLowerCase() === h.toLowerCase())) headers.push(h);
  }
  return { headers, user: true };
}

/** The id of a block of a sample, as lineage headers name it. */
export function blockSessionId(key: string, block: number): string {
  return `${key}.b${block}`;
}

/** The headers and body fields one request carries under `policy` (empty without an affinity). */
export function affinityFields(
  policy: AffinityPolicy,
  affinity: CallAffinity | undefined,
): { headers: Record<string, string>; body: { user?: string } } {
  if (policy === 'none' || !affinity) return { headers: {}, body: {} };
  const headers: Record<string, string> = {};
  for (const name of policy.headers) {
    headers[name] = affinity.key;
    const parent = LINEAGE_HEADERS[name.toLowerCase()];
    if (parent && affinity.block !== undefined) headers[parent] = blockSessionId(affinity.key, affinity.block);
  }
  return { headers, body: policy.user ? { user: affinity.key } : {} };
}

/** Header names a request may carry: RFC 9110 tokens. */
export const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
