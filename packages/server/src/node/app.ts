/**
 * The daemon's HTTP application (Fastify): security hooks that run before any route (Host, Origin,
 * session token), the single error mapping, request metrics and logs, the shell at `/`, the
 * OpenAPI document, and the route modules.
 */
import { createServer as createHttpsServer } from 'node:https';
import Fastify, {
  type FastifyError,
  type FastifyServerFactory,
  type FastifyInstance,
  type FastifyRequest,
} from 'fastify';
import fastifySwagger from '@fastify/swagger';
import {
  hasZodFastifySchemaValidationErrors,
  jsonSchemaTransform,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { toVirtosError, type Clock, type Logger, type VirtosError } from '@virtos/core';
import { ServerErrors } from '../errors.js';
import { errorBody, httpStatusFor } from '../common/http-status.js';
import { LabeledCounter } from '../common/prometheus.js';
import { checkRequestHeaders, type ListenIdentity } from '../common/request-guard.js';
import type { SessionManager } from './session-manager.js';
import { registerShellStatic } from './routes/shell-routes.js';

/** Per-route options read by the security hook. */
declare module 'fastify' {
  interface FastifyContextConfig {
    /** True for the few routes reachable without a session token. */
    isPublic?: boolean;
  }
}

/** Default request-body limit: 1 MiB. */
export const DEFAULT_BODY_LIMIT = 1024 * 1024;

/** What {@link buildApp} needs. */
export interface AppOptions {
  /** Where the daemon listens (read on every request: the port is known only after listen). */
  readonly identity: () => ListenIdentity;
  readonly sessions: SessionManager;
  readonly logger: Logger;
  readonly clock: Clock;
  /** Request-body limit in bytes (default {@link DEFAULT_BODY_LIMIT}). */
  readonly bodyLimit?: number;
  /** Version shown in the OpenAPI document and `/api/health`. */
  readonly version: string;
  /** Serve HTTPS with this certificate and key (PEM) instead of plain HTTP. */
  readonly tls?: { readonly cert: string; readonly key: string };
}

/** Request counts by route and status, for `/metrics`. */
export interface HttpMetrics {
  readonly requests: LabeledCounter;
}

/** Reads the bearer token of a request (`Authorization: Bearer <token>`). */
export function bearerToken(req: { headers: Record<string, unknown> }): string | undefined {
  const h = req.headers['authorization'];
  if (typeof h !== 'string') return undefined;
  const m = /^Bearer ([A-Za-z0-9_-]{1,128})$/.exec(h);
  return m?.[1];
}

/** Makes the Fastify app with its hooks; the caller registers route modules and calls `ready`. */
export async function buildApp(
  options: AppOptions,
): Promise<{ app: FastifyInstance; metrics: HttpMetrics }> {
  const { logger, sessions, tls } = options;
  // An https server is an http server with TLS underneath (the same request, upgrade and close
  // events), so the app, its hooks and the upgrade router stay the same.
  const httpsServer: FastifyServerFactory | undefined =
    tls && ((handler) => createHttpsServer({ cert: tls.cert, key: tls.key }, handler));
  const app = Fastify({
    // SECURITY: bodies above the limit are refused while streaming in, before parsing.
    bodyLimit: options.bodyLimit ?? DEFAULT_BODY_LIMIT,
    // The daemon writes its own structured logs (core logger) without request bodies or tokens.
    logger: false,
    // Shutdown must not wait for idle keep-alive connections.
    forceCloseConnections: 'idle',
    return503OnClosing: true,
    // Ids from a counter are enough to correlate log lines of one request.
    requestIdHeader: false,
    ...(httpsServer && { serverFactory: httpsServer }),
  });
  const metrics: HttpMetrics = { requests: new LabeledCounter() };

  app.setValidatorCompiler(validatorCompiler);
  // Responses are built from typed values; serializing them without a second validation keeps the
  // API fast (list/get p50 <= 2 ms). Response schemas still document the API in OpenAPI.
  app.setSerializerCompiler(() => (data) => JSON.stringify(data));

  // Registered (and awaited) before any route, so that its onRoute hook sees every route.
  await app.register(fastifySwagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'VirtOS daemon API',
        version: options.version,
        description:
          'Local API of the VirtOS daemon. Every route except GET /, GET /api/health and the ' +
          'session routes needs `Authorization: Bearer <token>` from POST /api/session.',
      },
      components: {
        securitySchemes: { session: { type: 'http', scheme: 'bearer' } },
      },
      security: [{ session: [] }],
    },
    transform: jsonSchemaTransform,
  });

  app.addHook('onRequest', async (req, reply) => {
    const guard = checkRequestHeaders(
      {
        host: req.headers.host,
        origin: header(req, 'origin'),
        secFetchSite: header(req, 'sec-fetch-site'),
      },
      options.identity(),
    );
    if (guard) return sendError(reply, guard);
    if (req.routeOptions.config.isPublic === true) return;
    // SECURITY: every non-public route needs a live session token; tokens exist only after the
    // vault was unlocked and die when it locks. The check runs before the body is parsed.
    if (!sessions.verify(bearerToken(req))) {
      return sendError(
        reply,
        ServerErrors.create('unauthenticated', 'This request needs a valid session token.', {
          hint: 'Unlock the vault (virtos unlock, or POST /api/session) and send Authorization: Bearer <token>.',
        }),
      );
    }
  });

  app.addHook('onSend', async (_req, reply, payload) => {
    // SECURITY: API answers are never cached, sniffed or framed.
    reply.header('Cache-Control', 'no-store');
    reply.header('X-Content-Type-Options', 'nosniff');
    reply.header('X-Frame-Options', 'DENY');
    reply.header('Referrer-Policy', 'no-referrer');
    return payload;
  });

  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unmatched';
    metrics.requests.inc({ method: req.method, route, status: String(reply.statusCode) });
    logger.debug('http request', {
      reqId: req.id,
      method: req.method,
      route,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
    });
  });

  app.setNotFoundHandler((req, reply) => {
    void sendError(
      reply,
      ServerErrors.create('no_such_route', `No route ${req.method} ${req.url.split('?')[0]}.`, {
        hint: 'See /api/openapi.json for the API.',
      }),
    );
  });

  app.setErrorHandler((e: FastifyError, req, reply) => {
    const ve = fromFastifyError(e);
    if (ve.errorClass === 'internal') {
      logger.error('request failed', {
        reqId: req.id,
        route: req.routeOptions.url,
        code: ve.code,
        error: String(e.stack ?? e),
      });
    }
    return sendError(reply, ve);
  });

  registerShellStatic(app);

  app.get('/api/openapi.json', { schema: { hide: true } }, async () => app.swagger());

  return { app, metrics };
}

/** Sends an error in the one body shape, with the one status mapping. */
export function sendError(
  reply: { code(n: number): unknown; send(b: unknown): unknown; sent: boolean },
  error: VirtosError,
): unknown {
  if (reply.sent) return undefined;
  reply.code(httpStatusFor(error));
  return reply.send(errorBody(error));
}

function header(req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Fastify's own errors (parsing, limits, validation) as coded daemon errors. */
function fromFastifyError(e: FastifyError): VirtosError {
  if (hasZodFastifySchemaValidationErrors(e)) {
    const issues = e.validation.map((v) => ({
      path: v.instancePath || '/',
      message: v.message ?? 'invalid',
    }));
    const first = issues[0];
    return ServerErrors.create(
      'invalid_request',
      `The request ${e.validationContext ?? 'body'} is invalid${first ? `: ${first.path} ${first.message}` : ''}.`,
      { hint: 'See /api/openapi.json for the expected shape.', details: { issues } },
    );
  }
  switch (e.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return ServerErrors.create('body_too_large', 'The request body is too large.', {
        hint: 'Requests are limited to 1 MiB.',
      });
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return ServerErrors.create('malformed_json', 'The request body is not valid JSON.', {
        hint: 'Send one JSON object with Content-Type: application/json.',
      });
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return ServerErrors.create('unsupported_media_type', 'The body must be application/json.', {
        hint: 'Send Content-Type: application/json.',
      });
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return ServerErrors.create('malformed_json', 'The Content-Length does not match the body.');
  }
  if (e instanceof SyntaxError) {
    return ServerErrors.create('malformed_json', 'The request body is not valid JSON.', {
      hint: 'Send one JSON object with Content-Type: application/json.',
    });
  }
  return toVirtosError(e);
}

/** The app with zod types for route schemas. */
export function typed(app: FastifyInstance) {
  return app.withTypeProvider<ZodTypeProvider>();
}
