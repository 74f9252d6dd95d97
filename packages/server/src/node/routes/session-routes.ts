/**
 * Routes that create and end sessions: first-run vault creation, unlock, lock, and the health probe.
 * These (and GET /) are the only routes reachable without a token.
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import { ServerErrors } from '../../errors.js';
import { bearerToken, typed } from '../app.js';
import { isWrongSecret, type PersonalState, type UnlockedService } from '../personal-state.js';
import type { SessionManager } from '../session-manager.js';
import { ErrorBodySchema } from './schemas.js';

/** What the session routes need. */
export interface SessionRouteDeps {
  readonly state: PersonalState<UnlockedService>;
  readonly sessions: SessionManager;
  readonly version: string;
}

const Secret = z.string().min(1).max(1024);
const InitBody = z.object({ passphrase: Secret }).strict();
const SessionBody = z.union([
  z.object({ passphrase: Secret }).strict(),
  z.object({ recoveryKey: Secret }).strict(),
]);
const TokenReply = z.object({ token: z.string(), expiresAfterIdleS: z.number() });

/** Registers health, vault init and session routes. */
export function registerSessionRoutes(
  app: FastifyInstance,
  deps: SessionRouteDeps,
  idleS: number,
): void {
  const r = typed(app);
  const { state, sessions } = deps;

  r.get(
    '/api/health',
    {
      config: { isPublic: true },
      schema: {
        summary: 'Liveness and vault state (no token needed).',
        tags: ['session'],
        security: [],
        response: {
          200: z.object({
            ok: z.literal(true),
            version: z.string(),
            vault: z.enum(['none', 'locked', 'unlocked']),
          }),
        },
      },
    },
    async () => ({
      ok: true as const,
      version: deps.version,
      vault: state.isUnlocked
        ? ('unlocked' as const)
        : state.hasVault()
          ? ('locked' as const)
          : ('none' as const),
    }),
  );

  r.post(
    '/api/vault/init',
    {
      config: { isPublic: true },
      schema: {
        summary: 'First run: create the vault with a passphrase; returns the recovery key once.',
        tags: ['session'],
        security: [],
        body: InitBody,
        response: {
          201: TokenReply.extend({ recoveryKey: z.string() }),
          409: ErrorBodySchema,
        },
      },
    },
    async (req, reply) => {
      // SECURITY: refused when a vault exists, so this route can never replace a user's vault.
      const { recoveryKey } = await state.init(req.body.passphrase);
      reply.code(201);
      return { token: sessions.issue(), expiresAfterIdleS: idleS, recoveryKey };
    },
  );

  r.post(
    '/api/session',
    {
      config: { isPublic: true },
      schema: {
        summary: 'Unlock the vault with the passphrase or the recovery key; returns a token.',
        tags: ['session'],
        security: [],
        body: SessionBody,
        response: { 201: TokenReply, 403: ErrorBodySchema, 429: ErrorBodySchema },
      },
    },
    async (req, reply) => {
      // SECURITY: failed attempts back off exponentially after a few tries.
      sessions.checkAttempt();
      const body = req.body;
      try {
        await state.unlock(
          'passphrase' in body
            ? { kind: 'passphrase', passphrase: body.passphrase }
            : { kind: 'recovery', recoveryKey: body.recoveryKey },
        );
      } catch (e) {
        if (isWrongSecret(e)) sessions.recordFailure();
        throw e;
      }
      sessions.recordSuccess();
      reply.code(201);
      return { token: sessions.issue(), expiresAfterIdleS: idleS };
    },
  );

  r.delete(
    '/api/session',
    {
      schema: {
        summary: 'Lock: stop the orchestrator, wipe the keys, invalidate every token.',
        tags: ['session'],
        response: { 204: z.null() },
      },
    },
    async (req, reply) => {
      if (bearerToken(req) === undefined) throw ServerErrors.create('unauthenticated', 'No token.');
      // SECURITY: tokens go first, so no request can use the vault while it is being locked.
      sessions.revokeAll();
      await state.lock();
      reply.code(204);
      return null;
    },
  );
}
