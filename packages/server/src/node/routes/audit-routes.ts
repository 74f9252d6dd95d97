/**
 * Audit and security routes for the Security Center: the audit log, and the vault's status with
 * its unlockers, a full integrity check (cached per commit counter) and the alerts.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Vault, VerifyReport } from '@virtos/vault';
import { typed } from '../app.js';
import { listAudit } from './audit-log.js';
import type { VaultAccess } from './vault-deps.js';

const AuditSchema = z.object({
  at: z.number(),
  action: z.string(),
  subject: z.string().optional(),
  details: z.record(z.string(), z.unknown()).optional(),
});

/** Registers GET /api/audit and GET /api/security/status. */
export function registerAuditRoutes(app: FastifyInstance, deps: VaultAccess): void {
  const r = typed(app);
  // The last full check per vault, reused while no commit happened since.
  let cached: { vault: Vault; counter: number; at: number; report: VerifyReport } | undefined;

  r.get(
    '/api/audit',
    {
      schema: {
        summary: 'The audit log, newest first.',
        tags: ['security'],
        querystring: z
          .object({ limit: z.coerce.number().int().min(1).max(1000).optional() })
          .strict(),
        response: { 200: z.array(AuditSchema) },
      },
    },
    async (req) => listAudit(deps.currentVault(), req.query.limit ?? 200),
  );

  r.get(
    '/api/security/status',
    {
      schema: {
        summary: 'Vault status, unlockers, integrity check and alerts (the Security Center).',
        tags: ['security'],
      },
    },
    async () => {
      const v = deps.currentVault();
      const s = v.status();
      if (!cached || cached.vault !== v || cached.counter !== s.counter) {
        // SECURITY: a full walk of header MAC, key slots, chain, records and chunks; any damage
        // or tampering shows up as problems and as an alert below.
        cached = { vault: v, counter: s.counter, at: Date.now(), report: v.verify() };
      }
      const report = cached.report;
      const alerts = [
        ...report.problems.map((p) => ({
          at: cached?.at ?? Date.now(),
          kind: `integrity.${p.region}`,
          message: `${p.subject}: ${p.message}`,
        })),
        ...listAudit(v, 1000)
          .filter((e) => e.action.startsWith('alert.'))
          .map((e) => ({ at: e.at, kind: e.action, message: e.subject ?? e.action })),
      ];
      return {
        vaultId: s.vaultId,
        format: s.format,
        createdAt: s.createdAt,
        counter: s.counter,
        unlockers: s.unlockers.map((u) => ({
          id: u.id,
          kind: u.kind,
          label: u.label,
          createdAt: u.createdAt,
        })),
        integrity: {
          ok: report.ok,
          checkedAt: cached.at,
          objects: report.objects,
          chunks: report.chunks,
          problems: report.problems.map((p) => ({
            region: p.region,
            subject: p.subject,
            message: p.message,
          })),
        },
        alerts,
      };
    },
  );
}
