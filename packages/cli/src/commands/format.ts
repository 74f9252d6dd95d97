/**
 * Human-readable output: findings and spec summaries.
 */
import type { EnvironmentSpec, Finding } from '@virtos/spec';

const KIND_LABEL: Record<Finding['kind'], string> = {
  ambiguity: 'question',
  conflict: 'conflict',
  unsupported: 'unsupported',
  unavailable: 'unavailable',
  assumption: 'assumed',
  substitution: 'substituted',
};

/** One line per finding, blocking ones marked, options listed. */
export function formatFindings(findings: readonly Finding[]): string {
  let out = '';
  for (const f of findings) {
    out += `  ${f.blocking ? '!' : '-'} ${KIND_LABEL[f.kind]} (${f.field}): ${f.message}\n`;
    if (f.options?.length) out += `      choose: ${f.options.map((o) => o.label).join(' | ')}\n`;
  }
  return out;
}

/** A short summary of a spec, one fact per line. */
export function formatSpec(spec: EnvironmentSpec): string {
  const r = spec.resources;
  const net =
    spec.network.mode === 'allowlist'
      ? `allowlist: ${spec.network.allow.join(', ')}`
      : spec.network.mode;
  const lines = [
    `name:        ${spec.name}`,
    `base:        ${spec.base.distro} ${spec.base.release}`,
    `runtime:     ${spec.runtime}`,
    `display:     ${spec.display}`,
    `apps:        ${spec.apps.map((a) => a.id).join(', ') || '(none)'}`,
    `network:     ${net}${spec.network.peers.length ? ` (peers: ${spec.network.peers.join(', ')})` : ''}`,
    `resources:   ${r.cpus} CPU, ${r.memoryMiB} MiB memory, ${r.diskMiB} MiB disk${r.gpus ? `, ${r.gpus} GPU` : ''}`,
    `persistence: ${spec.persistence}`,
    `security:    ${spec.security.isolation} isolation, seccomp ${spec.security.seccompProfile}${spec.security.readOnlyRoot ? ', read-only root' : ''}${spec.security.capabilities.length ? `, caps ${spec.security.capabilities.join(' ')}` : ''}`,
    `lifetime:    ttl ${spec.lifetime.ttlMinutes === null ? 'none' : `${spec.lifetime.ttlMinutes} min`}, idle suspend ${spec.lifetime.idleSuspendMinutes === null ? 'never' : `after ${spec.lifetime.idleSuspendMinutes} min`}`,
    `priority:    ${spec.priority}`,
  ];
  return lines.map((l) => `  ${l}\n`).join('');
}
