/**
 * Search and settings routes: full-text search over notes and file names (the vault's in-memory
 * FTS5 index), and the settings key-value store.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { typed } from '../app.js';
import { KeyName, type VaultAccess } from './vault-deps.js';

const HitSchema = z.object({
  kind: z.enum(['note', 'file']),
  id: z.string(),
  title: z.string(),
  snippet: z.string(),
});

/** Registers GET /api/search and the settings routes. */
export function registerSearchRoutes(app: FastifyInstance, deps: VaultAccess): void {
  const r = typed(app);

  r.get(
    '/api/search',
    {
      schema: {
        summary: 'Search notes (title, body, tags) and file names; every word must match.',
        tags: ['search'],
        querystring: z
          .object({
            q: z.string().max(500),
            limit: z.coerce.number().int().min(1).max(100).optional(),
          })
          .strict(),
        response: { 200: z.array(HitSchema) },
      },
    },
    async (req) => deps.currentVault().find(req.query.q, req.query.limit ?? 20),
  );

  r.get(
    '/api/settings',
    {
      schema: {
        summary: 'Every setting.',
        tags: ['settings'],
        response: { 200: z.array(z.object({ key: z.string(), value: z.unknown() })) },
      },
    },
    async () => deps.currentVault().settings.entries(),
  );

  r.get(
    '/api/settings/:key',
    {
      schema: {
        summary: 'One setting (null when unset).',
        tags: ['settings'],
        params: z.object({ key: KeyName }),
        response: { 200: z.object({ key: z.string(), value: z.unknown() }) },
      },
    },
    async (req) => ({
      key: req.params.key,
      value: deps.currentVault().settings.get(req.params.key) ?? null,
    }),
  );

  r.put(
    '/api/settings/:key',
    {
      schema: {
        summary: 'Set one setting (a JSON value).',
        tags: ['settings'],
        params: z.object({ key: KeyName }),
        body: z.object({ value: z.unknown() }).strict(),
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      await deps.currentVault().settings.set(req.params.key, req.body.value ?? null);
      reply.code(204);
      return null;
    },
  );
}
