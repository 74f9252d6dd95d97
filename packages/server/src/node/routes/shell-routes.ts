/**
 * The App Shell's side of the daemon: the built shell (packages/shell/dist) served at `/` with a
 * strict Content-Security-Policy, the shell's settings in the vault (window layout, preferences),
 * the canary status, and the passkey routes (passkey-routes.ts).
 */
import { readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { Clock, Logger } from '@virtos/core';
import type { Vault } from '@virtos/vault';
import { ServerErrors } from '../../errors.js';
import { typed } from '../app.js';
import { CanaryMonitor, SHELL_DIST, listFiles, type CanaryAuditEntry } from '../canary.js';
import type { ListenIdentity } from '../../common/request-guard.js';
import type { PersonalState, UnlockedService } from '../personal-state.js';
import type { SessionManager } from '../session-manager.js';
import { registerPasskeyRoutes } from './passkey-routes.js';
import { ErrorBodySchema } from './schemas.js';

/**
 * The shell's Content-Security-Policy. SECURITY: scripts and styles only from the daemon's own
 * files (no inline script, no eval), API calls only to the daemon, no plugins, no framing of the
 * shell by anyone (clickjacking). Module windows are sandboxed iframes (no same origin) loaded from
 * the daemon or from blob: documents the shell makes, hence `frame-src 'self' blob:`.
 */
export const SHELL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data: blob:",
  "font-src 'self'",
  "connect-src 'self'",
  "manifest-src 'self'",
  "worker-src 'self'",
  "frame-src 'self' blob:",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
].join('; ');

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.woff2': 'font/woff2',
};

const FALLBACK_PAGE = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>VirtOS</title></head>
<body><h1>VirtOS is running</h1>
<p>The web desktop is not built: run <code>npm run build</code> and restart the daemon.</p>
</body></html>
`;

/**
 * Serves the built shell from memory: every file of `dist/` is read once at registration (the
 * canary checks the same files on disk against the build manifest). Without a build, `/` says how
 * to make one.
 */
export function registerShellStatic(app: FastifyInstance, distDir = SHELL_DIST): void {
  const files = new Map<string, { body: Buffer; type: string }>();
  try {
    for (const f of listFiles(distDir)) {
      const type = TYPES[extname(f)];
      // SECURITY: only known static types are served; the manifest is served for the shell's
      // own display of its digest, nothing else from the build directory is exposed.
      if (type) files.set('/' + f, { body: readFileSync(join(distDir, f)), type });
    }
  } catch {
    // No build yet: the fallback page below.
  }
  const index = files.get('/index.html');
  app.get('/', { config: { isPublic: true }, schema: { hide: true } }, async (_req, reply) => {
    reply.header(
      'Content-Security-Policy',
      index ? SHELL_CSP : "default-src 'none'; frame-ancestors 'none'",
    );
    reply.header('Cross-Origin-Opener-Policy', 'same-origin');
    reply.type(index?.type ?? 'text/html; charset=utf-8');
    return index?.body ?? FALLBACK_PAGE;
  });
  for (const [path, file] of files) {
    if (path === '/index.html') continue;
    app.get(path, { config: { isPublic: true }, schema: { hide: true } }, async (_req, reply) => {
      reply.header('Content-Security-Policy', SHELL_CSP);
      // SECURITY: the service worker may control only the shell's own scope.
      if (path === '/sw.js') reply.header('Service-Worker-Allowed', '/');
      reply.type(file.type);
      return file.body;
    });
  }
}

/** What the shell routes need (daemon.ts passes them). */
export interface ShellRouteDeps {
  readonly state: PersonalState<UnlockedService>;
  readonly sessions: SessionManager;
  readonly logger: Logger;
  readonly clock: Clock;
  /** The session idle timeout in s (reported with new tokens). */
  readonly idleS: number;
  /** The daemon's data directory. */
  readonly home: string;
  /** Where the daemon listens (WebAuthn origins). */
  readonly identity: () => ListenIdentity;
  /** Re-check period of the canary in ms (default 60 s). */
  readonly canaryIntervalMs?: number;
  /** Where the canary looks (tests): the shell's dist/ and the repository root. */
  readonly canaryPaths?: { readonly distDir: string; readonly repoRoot: string };
}

/** Settings the shell keeps in the vault (key -> JSON value). */
const SETTING_KEYS = ['layout', 'prefs'] as const;
const SETTINGS_PREFIX = 'shell.';
/** The vault collection of audit records (shared with the Security Center). */
export const AUDIT_COLLECTION = 'audit';

/** The unlocked vault behind the personal state, or undefined while locked. */
export function unlockedVault(state: PersonalState<UnlockedService>): Vault | undefined {
  return state.isUnlocked ? state.currentVault() : undefined;
}

/** Registers settings, canary and passkey routes, and starts the canary. */
export function registerShellRoutes(app: FastifyInstance, deps: ShellRouteDeps): void {
  const r = typed(app);
  const { state } = deps;
  const canary = new CanaryMonitor({
    logger: deps.logger.child({ component: 'canary' }),
    clock: deps.clock,
    ...(deps.canaryIntervalMs !== undefined && { intervalMs: deps.canaryIntervalMs }),
    ...deps.canaryPaths,
    // A finding of a periodic check goes to the audit log at once when the vault is unlocked.
    // (Deferred: the first check runs inside the constructor, before `canary` is assigned.)
    onDidQueueAudit: () => queueMicrotask(() => void flushAudit()),
  });
  canary.start();
  app.addHook('onClose', async () => canary.dispose());

  async function flushAudit(): Promise<void> {
    const v = unlockedVault(state);
    if (!v) return;
    const entries: CanaryAuditEntry[] = canary.drainAudit();
    let written = 0;
    try {
      // SECURITY: canary findings end up in the vault's audit log (sealed, chained), so they
      // survive restarts and show in the Security Center. Same record shape as the other audit
      // writers (KeyValueApi), keyed `<ms, 15 digits>-canary-<n>`.
      for (const e of entries) {
        await v
          .records(AUDIT_COLLECTION)
          .set(`${String(e.at).padStart(15, '0')}-canary-${written}`, e);
        written++;
      }
    } catch (e) {
      canary.requeue(entries.slice(written));
      deps.logger.warn('canary: audit write failed', { error: String(e) });
    }
  }
  // Throws server.locked / server.no_vault while locked.
  const unlocked = (): Vault => state.currentVault();

  r.get(
    '/api/shell/canary',
    {
      config: { isPublic: true },
      schema: {
        summary: 'Canary status: do the daemon code and shell bundle match the build manifest?',
        tags: ['shell'],
        security: [],
      },
    },
    async () => {
      await flushAudit();
      const s = canary.status;
      // Before unlock, only the verdict: file names are shown after unlock.
      // SECURITY: before unlock only the verdict and the count are public; which files differ
      // is shown after unlock.
      return state.isUnlocked
        ? { ...s, count: s.mismatches.length }
        : { ...s, mismatches: [], count: s.mismatches.length };
    },
  );

  r.post(
    '/api/shell/canary/check',
    { schema: { summary: 'Runs the canary check now.', tags: ['shell'] } },
    async () => {
      const s = canary.check();
      await flushAudit();
      return s;
    },
  );

  r.get(
    '/api/shell/settings',
    {
      schema: {
        summary: "The shell's settings from the vault (window layout, preferences).",
        tags: ['shell'],
        response: { 200: z.record(z.string(), z.unknown()), 409: ErrorBodySchema },
      },
    },
    async () => {
      const v = unlocked();
      await flushAudit();
      const out: Record<string, unknown> = {};
      for (const k of SETTING_KEYS) {
        const val = v.settings.get<unknown>(SETTINGS_PREFIX + k);
        if (val !== undefined) out[k] = val;
      }
      return out;
    },
  );

  r.put(
    '/api/shell/settings/:key',
    {
      schema: {
        summary: 'Stores one shell setting in the vault (one commit).',
        tags: ['shell'],
        params: z.object({ key: z.enum(SETTING_KEYS) }),
        // SECURITY: settings are small JSON values; 64 KiB is plenty for a window layout.
        body: z.object({ value: z.unknown() }).strict(),
        response: { 204: z.null(), 409: ErrorBodySchema },
      },
    },
    async (req, reply) => {
      const raw = JSON.stringify(req.body.value ?? null);
      if (raw.length > 64 * 1024) {
        throw ServerErrors.create('body_too_large', 'A shell setting is limited to 64 KiB.');
      }
      await unlocked().settings.set(SETTINGS_PREFIX + req.params.key, req.body.value ?? null);
      reply.code(204);
      return null;
    },
  );

  registerPasskeyRoutes(app, { ...deps, vault: unlockedVault });
}
