/**
 * Stream routes: a short-lived stream token for an environment's display or terminal (the only
 * credential for `/streams/<id>`), and the stats of its open streams. The gateway itself is mounted
 * on the daemon's upgrade router (daemon.ts).
 */
import type { FastifyInstance } from 'fastify';
import { z } from 'zod';
import type { StreamGateway, StreamTokenService } from '@virtos/gateway';
import type { Orchestrator } from '@virtos/orchestrator';
import { ServerErrors } from '../../errors.js';
import { bearerToken, typed } from '../app.js';
import type { PersonalState } from '../personal-state.js';
import type { SessionManager } from '../session-manager.js';
import { ErrorBodySchema } from './schemas.js';

/** What the stream routes need. */
export interface StreamRouteDeps {
  readonly state: PersonalState<Orchestrator>;
  readonly sessions: SessionManager;
  readonly tokens: StreamTokenService;
  /** The gateway, once the daemon listens (its allowed origins need the port). */
  readonly gateway: () => StreamGateway | undefined;
  /** Called with the session id of every issued token (revoked when the vault locks). */
  readonly onIssued?: (sessionId: string) => void;
}

const IdParams = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .regex(/^[A-Za-z0-9_-]+$/, 'an environment id: letters, digits, _ and -'),
});

/** Registers `POST /api/environments/:id/stream-token` and `GET /api/environments/:id/stream-stats`. */
export function registerStreamRoutes(app: FastifyInstance, deps: StreamRouteDeps): void {
  const r = typed(app);
  const tags = ['streams'];

  r.post(
    '/api/environments/:id/stream-token',
    {
      schema: {
        summary:
          'A single-use stream token (seconds) for the display of a running desktop (rfb) or the ' +
          'shell of a running terminal environment (pty); connect a ' +
          'WebSocket to `url` (same origin) within `expiresAt`.',
        tags,
        params: IdParams,
        response: {
          200: z.object({ token: z.string(), url: z.string(), expiresAt: z.number() }),
          404: ErrorBodySchema,
          409: ErrorBodySchema,
        },
      },
    },
    async (req) => {
      const { id } = req.params;
      // SECURITY: the app's hook has checked the session already; the token is bound to it so
      // that locking (which ends every session) revokes the stream tokens it issued.
      const sessionId = deps.sessions.sessionId(bearerToken(req));
      if (sessionId === undefined) {
        throw ServerErrors.create('unauthenticated', 'This request needs a valid session token.');
      }
      // Personal mode: every environment of this daemon belongs to the unlocked vault's user, so a
      // live session may view any of them. Unknown ids are orchestrator.not_found (404).
      const rec = await deps.state.current().get(id);
      // Desktops stream their display (rfb), terminal environments a shell (pty bridge).
      const streamable = rec.display !== undefined || rec.spec.display === 'terminal';
      if (rec.state !== 'running' || !streamable) {
        throw ServerErrors.create(
          'not_streamable',
          `Environment ${id} is ${rec.state}${rec.state === 'running' ? ' without a display or terminal' : ''}; it cannot be streamed.`,
          {
            subject: id,
            hint: 'Only running desktop and terminal environments can be streamed.',
          },
        );
      }
      // SECURITY: 256-bit, single use, bound to (environment, session), expires in seconds.
      const issued = deps.tokens.issue(id, sessionId);
      deps.onIssued?.(sessionId);
      return {
        token: issued.token,
        url: `/streams/${encodeURIComponent(id)}?token=${issued.token}`,
        expiresAt: issued.expiresAt,
      };
    },
  );

  r.get(
    '/api/environments/:id/stream-stats',
    {
      schema: {
        summary: 'Stats of the open streams of an environment (bytes, updates, latency).',
        tags,
        params: IdParams,
        response: { 200: z.array(z.unknown()), 404: ErrorBodySchema },
      },
    },
    async (req) => {
      await deps.state.current().get(req.params.id);
      return deps.gateway()?.stats(req.params.id) ?? [];
    },
  );
}
