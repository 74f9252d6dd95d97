/**
 * Human-readable output of environment records and events.
 */
import type { EnvironmentEvent, EnvironmentRecord } from '@virtos/orchestrator';

function age(ms: number, now: number): string {
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** A table of environments: id, name, state, runtime, age. */
export function formatRecordTable(records: readonly EnvironmentRecord[], now = Date.now()): string {
  if (records.length === 0) return 'No environments.\n';
  const rows = [
    ['ID', 'NAME', 'STATE', 'RUNTIME', 'DISPLAY', 'AGE'],
    ...records.map((r) => [
      r.id,
      r.name,
      r.state + (r.reason ? ` (${r.reason})` : ''),
      r.runtime?.kind ?? '-',
      r.spec.display,
      age(r.createdAt, now),
    ]),
  ];
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
  return (
    rows
      .map((row) =>
        row
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      )
      .join('\n') + '\n'
  );
}

/** One record in detail. */
export function formatRecord(r: EnvironmentRecord): string {
  const lines = [
    `id:          ${r.id}`,
    `name:        ${r.name}`,
    `state:       ${r.state}${r.reason ? ` (${r.reason})` : ''}`,
    `owner:       ${r.owner}`,
    `host:        ${r.host || '(not placed)'}`,
    `runtime:     ${r.runtime ? `${r.runtime.kind} - ${r.runtime.reason}` : '-'}`,
    `created:     ${new Date(r.createdAt).toISOString()}`,
    ...(r.startedAt ? [`started:     ${new Date(r.startedAt).toISOString()}`] : []),
    ...(r.display ? [`display:     VNC ${r.display.width}x${r.display.height}`] : []),
  ];
  return lines.join('\n') + '\n';
}

/** One event as a line: time, seq, what. */
export function formatEvent(e: EnvironmentEvent): string {
  const t = new Date(e.at).toISOString().slice(11, 23);
  const what =
    e.type === 'transition' || e.type === 'created' ? `${e.from ?? '-'} -> ${e.to}` : e.type;
  return `${t}  #${e.seq}  ${what}: ${e.message}\n`;
}
