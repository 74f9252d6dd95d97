/**
 * Notes routes: list, get, revisions, create, update (the previous version becomes a revision),
 * delete. Each write is one vault commit: sealed, chained, and announced by the vault's change event.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { VaultErrors } from '@virtos/vault';
import { typed } from '../app.js';
import { ErrorBodySchema } from './schemas.js';
import { IdParams, type VaultAccess } from './vault-deps.js';

/** Longest note body: 512 KiB of text (the JSON body limit is 1 MiB). */
export const MAX_NOTE_BODY_CHARS = 512 * 1024;

const Title = z.string().trim().min(1).max(300);
const Body = z.string().max(MAX_NOTE_BODY_CHARS);
const Tags = z.array(z.string().trim().min(1).max(50)).max(50);
const NoteSchema = z.object({
  id: z.string(),
  title: z.string(),
  body: z.string(),
  tags: z.array(z.string()).readonly(),
  createdAt: z.number(),
  updatedAt: z.number(),
  revision: z.number(),
});

/** Registers the notes routes. */
export function registerNotesRoutes(app: FastifyInstance, deps: VaultAccess): void {
  const r = typed(app);
  const tags = ['notes'];

  r.get(
    '/api/notes',
    {
      schema: {
        summary: 'All notes, most recently updated first.',
        tags,
        response: { 200: z.array(NoteSchema) },
      },
    },
    async () => deps.currentVault().notes.list(),
  );

  r.get(
    '/api/notes/:id',
    {
      schema: {
        summary: 'One note.',
        tags,
        params: IdParams,
        response: { 200: NoteSchema, 404: ErrorBodySchema },
      },
    },
    async (req) => {
      const n = deps.currentVault().notes.get(req.params.id);
      // The vault's own not-found code, so clients see one code for a missing note.
      if (!n) throw VaultErrors.create('no_such_item', `No note ${req.params.id}.`);
      return n;
    },
  );

  r.get(
    '/api/notes/:id/revisions',
    {
      schema: {
        summary: 'Earlier versions of a note, oldest first.',
        tags,
        params: IdParams,
        response: { 200: z.array(NoteSchema) },
      },
    },
    async (req) => deps.currentVault().notes.revisions(req.params.id),
  );

  r.post(
    '/api/notes',
    {
      schema: {
        summary: 'Create a note.',
        tags,
        body: z.object({ title: Title, body: Body.optional(), tags: Tags.optional() }).strict(),
        response: { 201: NoteSchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      const note = await deps.currentVault().notes.create({
        title: b.title,
        ...(b.body !== undefined && { body: b.body }),
        ...(b.tags !== undefined && { tags: b.tags }),
      });
      reply.code(201);
      return note;
    },
  );

  r.patch(
    '/api/notes/:id',
    {
      schema: {
        summary: 'Change a note; the previous version is kept as a revision.',
        tags,
        params: IdParams,
        body: z
          .object({ title: Title.optional(), body: Body.optional(), tags: Tags.optional() })
          .strict(),
        response: { 200: NoteSchema, 404: ErrorBodySchema },
      },
    },
    async (req) => {
      const b = req.body;
      return deps.currentVault().notes.update(req.params.id, {
        ...(b.title !== undefined && { title: b.title }),
        ...(b.body !== undefined && { body: b.body }),
        ...(b.tags !== undefined && { tags: b.tags }),
      });
    },
  );

  r.delete(
    '/api/notes/:id',
    {
      schema: {
        summary: 'Delete a note and its revisions.',
        tags,
        params: IdParams,
        response: { 204: z.null(), 404: ErrorBodySchema },
      },
    },
    async (req, reply) => {
      await deps.currentVault().notes.remove(req.params.id);
      reply.code(204);
      return null;
    },
  );
}
