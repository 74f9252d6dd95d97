/**
 * Module routes: the built-in catalog, install (with the user's grants), list, enable/disable,
 * grants, remove, each module's own data, and the module frame. Modules and their data are
 * records of the vault; every install, grant change and removal is written to the audit log.
 *
 * A module's document is served only through a single-use frame ticket (30 s), so the iframe can
 * load it without a session token in its URL, with a CSP that forbids all network access.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { CAPABILITIES } from '@virtos/module-sdk';
import type { Vault } from '@virtos/vault';
import { typed } from '../app.js';
import type { PersonalState, UnlockedService } from '../personal-state.js';
import { appendAudit } from './audit-log.js';
import { ModuleApiErrors } from './module-api-errors.js';
import { ErrorBodySchema } from './schemas.js';
import { KeyName, type VaultAccess } from './vault-deps.js';

/** Capabilities a manifest may request: the module SDK's list, so the two cannot disagree. */
export const MODULE_CAPABILITIES = CAPABILITIES;

const CapabilitySchema = z.enum(MODULE_CAPABILITIES);
/** A module manifest. `strict`: unknown keys (say, a `network` wish) are refused, not ignored. */
export const ModuleManifestSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]{1,39}$/, 'an id: a-z, 0-9 and -, 2 to 40 characters'),
    name: z.string().trim().min(1).max(60),
    version: z.string().regex(/^\d{1,4}\.\d{1,4}\.\d{1,6}$/, 'a version like 1.2.3'),
    entry: z.string().regex(/^[A-Za-z0-9_.-]{1,64}\.js$/, 'a script file name like main.js'),
    capabilities: z
      .array(CapabilitySchema)
      .max(MODULE_CAPABILITIES.length)
      .refine((a) => new Set(a).size === a.length, 'capabilities must not repeat'),
    description: z.string().max(300).optional(),
  })
  .strict();

/** A module manifest (validated). */
export type ModuleManifestRecord = z.infer<typeof ModuleManifestSchema>;

/** Largest module script: 2 MiB. */
export const MAX_MODULE_SCRIPT_BYTES = 2 * 1024 * 1024;

const PackageSchema = z
  .object({
    manifest: z.unknown(),
    script: z.string().min(1).max(MAX_MODULE_SCRIPT_BYTES),
    style: z
      .string()
      .max(256 * 1024)
      .optional(),
  })
  .strict();

/** A module as stored in the vault. */
interface StoredModule {
  readonly manifest: ModuleManifestRecord;
  readonly script: string;
  readonly style: string;
  readonly enabled: boolean;
  readonly grants: readonly (typeof MODULE_CAPABILITIES)[number][];
  readonly installedAt: number;
  readonly source: 'builtin' | 'package';
}

/** Vault records collection of installed modules (key: module id). */
export const MODULES_COLLECTION = 'modules';
/** Records collection of one module's own data. */
export function moduleDataCollection(id: string): string {
  return `module-data/${id}`;
}

/** Lifetime of a frame ticket, ms. */
export const FRAME_TICKET_MS = 30_000;

/** Where `npm run build:modules` writes the built-in module packages. */
export function defaultBuiltinModulesDir(): string {
  return fileURLToPath(new URL('../../../../modules/dist/', import.meta.url));
}

/** What the module routes need. */
export interface ModulesRouteDeps extends VaultAccess {
  readonly state: Pick<PersonalState<UnlockedService>, 'onDidLock'>;
  /** Directory of `<id>.module.json` built-in packages (default {@link defaultBuiltinModulesDir}). */
  readonly builtinDir?: string;
}

const ModuleView = z.object({
  manifest: z.unknown(),
  enabled: z.boolean(),
  grants: z.array(z.string()),
  installedAt: z.number(),
  source: z.enum(['builtin', 'package']),
});

function view(m: StoredModule) {
  return {
    manifest: m.manifest,
    enabled: m.enabled,
    grants: [...m.grants],
    installedAt: m.installedAt,
    source: m.source,
  };
}

/** Validates a manifest; refusals carry the first problem. */
export function parseManifest(x: unknown): ModuleManifestRecord {
  const res = ModuleManifestSchema.safeParse(x);
  if (!res.success) {
    const first = res.error.issues[0];
    throw ModuleApiErrors.create(
      'invalid_manifest',
      `The module manifest is invalid${first ? `: ${first.path.join('.') || '/'} ${first.message}` : ''}.`,
      { hint: 'See docs/modules.md for the manifest fields.' },
    );
  }
  return res.data;
}

/** Reads the built-in packages (`*.module.json`); missing directory: none. */
async function loadCatalog(dir: string): Promise<Map<string, z.infer<typeof PackageSchema>>> {
  const out = new Map<string, z.infer<typeof PackageSchema>>();
  let names: string[];
  try {
    names = await readdir(dir);
  } catch {
    return out;
  }
  for (const n of names.filter((f) => f.endsWith('.module.json')).sort()) {
    const pkg = PackageSchema.parse(JSON.parse(await readFile(join(dir, n), 'utf8')));
    const m = parseManifest(pkg.manifest);
    out.set(m.id, pkg);
  }
  return out;
}

function sha256b64(s: string): string {
  return createHash('sha256').update(s, 'utf8').digest('base64');
}

/** Escapes text for an HTML text node or attribute. */
function esc(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c,
  );
}

/** The module document and its CSP. */
export function moduleDocument(
  m: Pick<StoredModule, 'manifest' | 'script' | 'style'>,
  frameAncestor: string,
): { html: string; csp: string } {
  // A literal "</script" in the bundle would end the element early; the escape keeps it inert.
  const script = m.script.replace(/<\/(script)/gi, '<\\/$1');
  const style = m.style.replace(/<\/(style)/gi, '<\\/$1');
  const csp = [
    "default-src 'none'",
    // SECURITY: only this exact bundle runs (hash), no eval, no other script source.
    `script-src 'sha256-${sha256b64(script)}'`,
    "style-src 'unsafe-inline'",
    'img-src blob: data:',
    'media-src blob: data:',
    'font-src data:',
    // SECURITY: no fetch, XHR, WebSocket, EventSource or beacon: modules reach data only through
    // the shell's broker over the MessagePort.
    "connect-src 'none'",
    "frame-src 'none'",
    "worker-src 'none'",
    "object-src 'none'",
    "form-action 'none'",
    "base-uri 'none'",
    // SECURITY: only the shell may embed a module, and the document is sandboxed (opaque origin,
    // scripts only) even if it were opened on its own.
    `frame-ancestors ${frameAncestor}`,
    'sandbox allow-scripts',
  ].join('; ');
  const html =
    `<!doctype html><html lang="en"><head><meta charset="utf-8">` +
    `<meta name="viewport" content="width=device-width, initial-scale=1">` +
    `<meta name="referrer" content="no-referrer">` +
    `<title>${esc(m.manifest.name)}</title><style>${style}</style></head>` +
    `<body><div id="app"></div><script>${script}</script></body></html>`;
  return { html, csp };
}

/** Registers the module routes. */
export function registerModulesRoutes(app: FastifyInstance, deps: ModulesRouteDeps): void {
  const r = typed(app);
  const tags = ['modules'];
  const builtinDir = deps.builtinDir ?? defaultBuiltinModulesDir();
  let catalog: Promise<Map<string, z.infer<typeof PackageSchema>>> | undefined;
  const getCatalog = () => (catalog ??= loadCatalog(builtinDir));
  const tickets = new Map<string, { moduleId: string; expiresAt: number; vault: Vault }>();
  // SECURITY: outstanding frame tickets die with the session.
  deps.state.onDidLock(() => tickets.clear());

  const records = (v: Vault) => v.records(MODULES_COLLECTION);
  const getModule = (v: Vault, id: string): StoredModule => {
    const m = records(v).get<StoredModule>(id);
    if (!m) {
      throw ModuleApiErrors.create('not_installed', `No module ${id} is installed.`, {
        subject: id,
        hint: 'GET /api/modules lists installed modules.',
      });
    }
    return m;
  };
  const ModuleParams = z.object({ id: ModuleManifestSchema.shape.id });

  r.get(
    '/api/modules',
    {
      schema: { summary: 'Installed modules.', tags, response: { 200: z.array(ModuleView) } },
    },
    async () =>
      records(deps.currentVault())
        .entries<StoredModule>()
        .map((e) => view(e.value))
        .sort((a, b) => (a.manifest.id < b.manifest.id ? -1 : 1)),
  );

  r.get(
    '/api/modules/catalog',
    {
      schema: {
        summary: 'Built-in modules that can be installed.',
        tags,
        response: {
          200: z.array(z.object({ manifest: z.unknown(), installed: z.boolean() })),
        },
      },
    },
    async () => {
      const v = deps.currentVault();
      const cat = await getCatalog();
      return [...cat.values()].map((p) => {
        const m = parseManifest(p.manifest);
        return { manifest: m, installed: records(v).get(m.id) !== undefined };
      });
    },
  );

  r.post(
    '/api/modules',
    {
      bodyLimit: MAX_MODULE_SCRIPT_BYTES + 512 * 1024,
      schema: {
        summary: 'Install a module (built-in by id, or a package) with the capabilities granted.',
        tags,
        body: z.union([
          z.object({ builtin: z.string().max(40), grants: z.array(CapabilitySchema) }).strict(),
          z.object({ package: PackageSchema, grants: z.array(CapabilitySchema) }).strict(),
        ]),
        response: { 201: ModuleView, 400: ErrorBodySchema, 409: ErrorBodySchema },
      },
    },
    async (req, reply) => {
      const v = deps.currentVault();
      const body = req.body;
      let pkg: z.infer<typeof PackageSchema>;
      if ('builtin' in body) {
        const found = (await getCatalog()).get(body.builtin);
        if (!found) {
          throw ModuleApiErrors.create('no_such_builtin', `No built-in module ${body.builtin}.`, {
            hint: 'Run npm run build:modules; GET /api/modules/catalog lists what is there.',
          });
        }
        pkg = found;
      } else {
        pkg = body.package;
      }
      const manifest = parseManifest(pkg.manifest);
      // SECURITY: the user can grant only what the module asked for, never more.
      const extra = body.grants.filter((g) => !manifest.capabilities.includes(g));
      if (extra.length > 0) {
        throw ModuleApiErrors.create(
          'grant_not_requested',
          `Module ${manifest.id} did not request ${extra.join(', ')}.`,
          { subject: manifest.id, hint: 'Grant a subset of the manifest capabilities.' },
        );
      }
      if (records(v).get(manifest.id)) {
        throw ModuleApiErrors.create('already_installed', `Module ${manifest.id} is installed.`, {
          subject: manifest.id,
          hint: 'Remove it first to reinstall.',
        });
      }
      const stored: StoredModule = {
        manifest,
        script: pkg.script,
        style: pkg.style ?? '',
        enabled: true,
        grants: [...new Set(body.grants)],
        installedAt: Date.now(),
        source: 'builtin' in body ? 'builtin' : 'package',
      };
      await records(v).set(manifest.id, stored);
      // SECURITY: every grant is on the record (audit log inside the vault).
      await appendAudit(v, {
        action: 'module.install',
        subject: manifest.id,
        details: {
          version: manifest.version,
          requested: manifest.capabilities,
          granted: stored.grants,
          source: stored.source,
        },
      });
      reply.code(201);
      return view(stored);
    },
  );

  r.patch(
    '/api/modules/:id',
    {
      schema: {
        summary: 'Enable or disable a module, or change its grants.',
        tags,
        params: ModuleParams,
        body: z
          .object({ enabled: z.boolean().optional(), grants: z.array(CapabilitySchema).optional() })
          .strict(),
        response: { 200: ModuleView, 404: ErrorBodySchema },
      },
    },
    async (req) => {
      const v = deps.currentVault();
      const m = getModule(v, req.params.id);
      const { enabled, grants } = req.body;
      if (grants) {
        const extra = grants.filter((g) => !m.manifest.capabilities.includes(g));
        if (extra.length > 0) {
          throw ModuleApiErrors.create(
            'grant_not_requested',
            `Module ${m.manifest.id} did not request ${extra.join(', ')}.`,
            { subject: m.manifest.id },
          );
        }
      }
      const next: StoredModule = {
        ...m,
        ...(enabled !== undefined && { enabled }),
        ...(grants !== undefined && { grants: [...new Set(grants)] }),
      };
      await records(v).set(m.manifest.id, next);
      if (enabled !== undefined && enabled !== m.enabled) {
        await appendAudit(v, {
          action: enabled ? 'module.enable' : 'module.disable',
          subject: m.manifest.id,
        });
      }
      if (grants !== undefined) {
        await appendAudit(v, {
          action: 'module.grants',
          subject: m.manifest.id,
          details: { before: m.grants, after: next.grants },
        });
      }
      return view(next);
    },
  );

  r.delete(
    '/api/modules/:id',
    {
      schema: {
        summary: 'Remove a module and all of its data.',
        tags,
        params: ModuleParams,
        response: { 204: z.null(), 404: ErrorBodySchema },
      },
    },
    async (req, reply) => {
      const v = deps.currentVault();
      const m = getModule(v, req.params.id);
      const data = v.records(moduleDataCollection(m.manifest.id)).entries();
      // One commit: the module and every record of its data go together.
      await v.transaction((tx) => {
        tx.records(MODULES_COLLECTION).delete(m.manifest.id);
        const d = tx.records(moduleDataCollection(m.manifest.id));
        for (const e of data) d.delete(e.key);
      });
      await appendAudit(v, { action: 'module.remove', subject: m.manifest.id });
      reply.code(204);
      return null;
    },
  );

  r.get(
    '/api/modules/:id/data/:key',
    {
      schema: {
        summary: "One value of a module's own data (null when unset).",
        tags,
        params: ModuleParams.extend({ key: KeyName }),
        response: { 200: z.object({ key: z.string(), value: z.unknown() }) },
      },
    },
    async (req) => {
      const v = deps.currentVault();
      getModule(v, req.params.id);
      const value = v.records(moduleDataCollection(req.params.id)).get(req.params.key);
      return { key: req.params.key, value: value ?? null };
    },
  );

  r.put(
    '/api/modules/:id/data/:key',
    {
      schema: {
        summary: "Set one value of a module's own data.",
        tags,
        params: ModuleParams.extend({ key: KeyName }),
        body: z.object({ value: z.unknown() }).strict(),
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      const v = deps.currentVault();
      getModule(v, req.params.id);
      await v.records(moduleDataCollection(req.params.id)).set(req.params.key, req.body.value);
      reply.code(204);
      return null;
    },
  );

  r.post(
    '/api/modules/:id/frame',
    {
      schema: {
        summary: "A single-use URL (30 s) of the module's sandboxed document.",
        tags,
        params: ModuleParams,
        response: { 201: z.object({ url: z.string(), expiresInMs: z.number() }) },
      },
    },
    async (req, reply) => {
      const v = deps.currentVault();
      const m = getModule(v, req.params.id);
      if (!m.enabled) {
        throw ModuleApiErrors.create('disabled', `Module ${m.manifest.id} is disabled.`, {
          subject: m.manifest.id,
          hint: 'Enable it in the Module Manager.',
        });
      }
      const now = Date.now();
      for (const [t, e] of tickets) if (e.expiresAt <= now) tickets.delete(t);
      // SECURITY: 256 random bits, single use, short-lived, bound to one module and vault; it
      // grants only the module's (public-shape) document, never data or a session.
      const ticket = randomBytes(32).toString('base64url');
      tickets.set(ticket, { moduleId: m.manifest.id, expiresAt: now + FRAME_TICKET_MS, vault: v });
      reply.code(201);
      return { url: `/modules/frame/${ticket}`, expiresInMs: FRAME_TICKET_MS };
    },
  );

  // The frame route lives in its own scope so that its onSend hook (which lets the shell embed
  // the document) applies to it alone.
  void app.register(async (scope) => {
    scope.addHook('onSend', async (_req, reply, payload) => {
      // SECURITY: framing is governed by the CSP's frame-ancestors (the daemon's own origin).
      reply.removeHeader('X-Frame-Options');
      return payload;
    });
    registerFrameRoute(scope, deps, tickets, getModule);
  });
}

function registerFrameRoute(
  app: FastifyInstance,
  deps: VaultAccess,
  tickets: Map<string, { moduleId: string; expiresAt: number; vault: Vault }>,
  getModule: (v: Vault, id: string) => StoredModule,
): void {
  const r = typed(app);
  r.get(
    '/modules/frame/:ticket',
    {
      config: { isPublic: true },
      schema: {
        hide: true,
        params: z.object({ ticket: z.string().regex(/^[A-Za-z0-9_-]{43}$/) }),
      },
    },
    async (req, reply) => {
      const t = tickets.get(req.params.ticket);
      tickets.delete(req.params.ticket);
      if (!t || t.expiresAt <= Date.now()) {
        throw ModuleApiErrors.create('bad_ticket', 'The module frame ticket is unknown or used.', {
          hint: 'Ask for a new one: POST /api/modules/:id/frame.',
        });
      }
      const v = deps.currentVault();
      // SECURITY: the ticket is bound to the vault session that issued it.
      if (v !== t.vault) throw ModuleApiErrors.create('bad_ticket', 'The ticket is stale.');
      const m = getModule(v, t.moduleId);
      // The Host header was checked against the daemon's identity by the request guard.
      // https when the daemon serves TLS (the socket is encrypted; no proxy headers are trusted).
      const origin = `${req.protocol}://${req.headers.host ?? ''}`;
      const doc = moduleDocument(m, origin);
      reply.header('Content-Security-Policy', doc.csp);
      reply.header('Cross-Origin-Opener-Policy', 'same-origin');
      reply.header('Cross-Origin-Resource-Policy', 'same-origin');
      reply.header(
        'Permissions-Policy',
        'camera=(), microphone=(), geolocation=(), usb=(), serial=(), hid=(), bluetooth=(), payment=()',
      );
      reply.type('text/html; charset=utf-8');
      return doc.html;
    },
  );
}
