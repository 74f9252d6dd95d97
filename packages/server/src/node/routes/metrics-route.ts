/**
 * `/metrics` in the Prometheus text format: environments per state, the provisioning duration
 * histogram and the scheduler queue length (while the vault is unlocked), and HTTP requests by
 * route and status (always).
 */
import type { FastifyInstance } from 'fastify';
import type { Orchestrator } from '@virtos/orchestrator';
import { PrometheusText } from '../../common/prometheus.js';
import type { HttpMetrics } from '../app.js';
import type { PersonalState } from '../personal-state.js';

/** What the metrics route reads. */
export interface MetricsRouteDeps {
  readonly state: PersonalState<Orchestrator>;
  readonly metrics: HttpMetrics;
  /** More exposition text appended as is (the streaming gateway's families). */
  readonly extra?: () => string;
}

const STATES = [
  'requested',
  'provisioning',
  'running',
  'suspended',
  'terminated',
  'failed',
] as const;

/** Renders the exposition document. */
export function renderMetrics(deps: MetricsRouteDeps): string {
  const text = new PrometheusText();
  text.family('virtos_vault_unlocked', 'gauge', '1 while the vault is unlocked.', [
    { value: deps.state.isUnlocked ? 1 : 0 },
  ]);
  if (deps.state.isUnlocked) {
    const m = deps.state.current().metrics();
    text.family(
      'virtos_environments',
      'gauge',
      'Environments per lifecycle state.',
      STATES.map((s) => ({ labels: { state: s }, value: m.byState[s] ?? 0 })),
    );
    text.family('virtos_scheduler_queue_length', 'gauge', 'Requests waiting for capacity.', [
      { value: m.queueLength },
    ]);
    text.histogram(
      'virtos_provisioning_duration_seconds',
      'Seconds from provisioning to running.',
      m.provisioningSeconds,
    );
  }
  text.family(
    'virtos_http_requests_total',
    'counter',
    'HTTP requests by method, route and status.',
    deps.metrics.requests.samples(),
  );
  const extra = deps.extra?.() ?? '';
  return extra ? `${text.toString().replace(/\n?$/, '\n')}${extra}` : text.toString();
}

/** Registers `GET /metrics`. */
export function registerMetricsRoute(app: FastifyInstance, deps: MetricsRouteDeps): void {
  app.get(
    '/metrics',
    { schema: { summary: 'Prometheus metrics (text format 0.0.4).', tags: ['metrics'] } },
    async (_req, reply) => {
      reply.type('text/plain; version=0.0.4; charset=utf-8');
      return renderMetrics(deps);
    },
  );
}
