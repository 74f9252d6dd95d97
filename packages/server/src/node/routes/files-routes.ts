/**
 * Files routes: list, stat, upload (streamed into sealed 1 MiB chunks, never buffered whole),
 * download (streamed chunk by chunk, each authenticated before it is sent), delete.
 */
import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { VaultErrors } from '@virtos/vault';
import { typed } from '../app.js';
import { ModuleApiErrors } from './module-api-errors.js';
import { ErrorBodySchema } from './schemas.js';
import { IdParams, ItemId, type VaultAccess } from './vault-deps.js';

/** Largest upload: 512 MiB. */
export const MAX_FILE_BYTES = 512 * 1024 * 1024;

const FileSchema = z.object({
  id: z.string(),
  name: z.string(),
  size: z.number(),
  mime: z.string(),
  chunks: z.number(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
const Mime = z
  .string()
  .max(100)
  .regex(/^[a-z0-9.+-]+\/[a-z0-9.+-]+$/i, 'a media type like text/plain');
const UploadQuery = z
  .object({
    name: z
      .string()
      .trim()
      .min(1)
      .max(255)
      .refine((n) => !/[\\/\0]/.test(n), 'a file name without / \\ or NUL'),
    mime: Mime.optional(),
    id: ItemId.optional(),
  })
  .strict();

/** Counts bytes as they stream in and stops at the limit. */
async function* limited(
  source: AsyncIterable<Uint8Array>,
  max: number,
): AsyncGenerator<Uint8Array> {
  let n = 0;
  for await (const part of source) {
    n += part.length;
    // SECURITY: the stream is cut at the limit, so a huge upload cannot fill the vault's disk.
    if (n > max) {
      throw ModuleApiErrors.create('file_too_large', `The file is larger than ${max} bytes.`, {
        hint: 'Files are limited to 512 MiB.',
      });
    }
    yield part;
  }
}

/** Registers the files routes (in their own context: the raw-body parser stays local). */
export function registerFilesRoutes(app: FastifyInstance, deps: VaultAccess): void {
  void app.register(async (scope) => {
    // Uploads arrive as raw bytes; the stream goes straight into the vault's chunker.
    scope.addContentTypeParser('application/octet-stream', (_req, payload, done) => {
      done(null, payload);
    });
    const r = typed(scope);
    const tags = ['files'];

    r.get(
      '/api/files',
      {
        schema: { summary: 'All files, by name.', tags, response: { 200: z.array(FileSchema) } },
      },
      async () => deps.currentVault().files.list(),
    );

    r.get(
      '/api/files/:id',
      {
        schema: {
          summary: "A file's metadata.",
          tags,
          params: IdParams,
          response: { 200: FileSchema, 404: ErrorBodySchema },
        },
      },
      async (req) => {
        const f = deps.currentVault().files.stat(req.params.id);
        if (!f) throw VaultErrors.create('no_such_item', `No file ${req.params.id}.`);
        return f;
      },
    );

    r.get(
      '/api/files/:id/content',
      {
        schema: {
          summary: "A file's content, streamed (always application/octet-stream).",
          tags,
          params: IdParams,
        },
      },
      async (req, reply) => {
        const v = deps.currentVault();
        const f = v.files.stat(req.params.id);
        if (!f) throw VaultErrors.create('no_such_item', `No file ${req.params.id}.`);
        // SECURITY: content is served as opaque bytes for download, never with its stored media
        // type, so a stored HTML or SVG file cannot run script in the daemon's origin.
        reply.type('application/octet-stream');
        reply.header('Content-Length', String(f.size));
        reply.header(
          'Content-Disposition',
          `attachment; filename*=UTF-8''${encodeURIComponent(f.name)}`,
        );
        reply.header('Content-Security-Policy', "default-src 'none'; sandbox");
        return reply.send(Readable.from(v.files.read(f.id)));
      },
    );

    r.put(
      '/api/files',
      {
        bodyLimit: MAX_FILE_BYTES,
        schema: {
          summary: 'Upload a file (raw bytes, application/octet-stream); `id` replaces one.',
          tags,
          querystring: UploadQuery,
          response: { 201: FileSchema, 413: ErrorBodySchema },
        },
      },
      async (req, reply) => {
        const q = req.query;
        const body = req.body as AsyncIterable<Uint8Array> | undefined;
        const v = deps.currentVault();
        const source = body ? limited(body, MAX_FILE_BYTES) : [new Uint8Array(0)];
        const info = await v.files.put(q.name, source, {
          ...(q.mime && { mime: q.mime.toLowerCase() }),
          ...(q.id && { id: q.id }),
        });
        reply.code(201);
        return info;
      },
    );

    r.delete(
      '/api/files/:id',
      {
        schema: {
          summary: 'Delete a file and its chunks.',
          tags,
          params: IdParams,
          response: { 204: z.null(), 404: ErrorBodySchema },
        },
      },
      async (req, reply) => {
        await deps.currentVault().files.remove(req.params.id);
        reply.code(204);
        return null;
      },
    );
  });
}
