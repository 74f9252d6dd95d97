/**
 * Matching of host names against an allowlist. `example.com` allows exactly that name;
 * `*.example.com` allows its subdomains at any depth but not `example.com` itself.
 */

/** Lower-cases a host name and drops one trailing dot; undefined when it is not a valid DNS name. */
export function normalizeHostname(name: string): string | undefined {
  let host = name.trim().toLowerCase();
  if (host.endsWith('.')) host = host.slice(0, -1);
  if (host.length === 0 || host.length > 253) return undefined;
  const labels = host.split('.');
  for (const label of labels) {
    if (!/^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/.test(label)) return undefined;
  }
  return host;
}

/** A compiled allowlist. */
export interface DomainMatcher {
  /** True when `host` (any case, optional trailing dot) is allowed. */
  matches(host: string): boolean;
  /** The normalized patterns, for logs and docs. */
  readonly patterns: readonly string[];
}

/** Compiles allowlist patterns (`name` or `*.name`). Invalid patterns are ignored, never widened. */
export function createDomainMatcher(patterns: readonly string[]): DomainMatcher {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  const normalized: string[] = [];
  for (const raw of patterns) {
    const wildcard = raw.trim().startsWith('*.');
    const host = normalizeHostname(wildcard ? raw.trim().slice(2) : raw);
    if (!host) continue;
    if (wildcard) {
      suffixes.push('.' + host);
      normalized.push('*.' + host);
    } else {
      exact.add(host);
      normalized.push(host);
    }
  }
  return {
    patterns: normalized,
    matches(name: string): boolean {
      const host = normalizeHostname(name);
      if (!host) return false;
      if (exact.has(host)) return true;
      return suffixes.some((suffix) => host.endsWith(suffix));
    },
  };
}
