/**
 * Environment routes: compose, create, list, get, modify, suspend, resume, terminate, events (JSON
 * history or a Server-Sent Events stream) and exec (NDJSON). They are thin: the orchestrator owns
 * the lifecycle and returns coded errors (not_found, illegal_operation) that the app maps to HTTP.
 */
import { userInfo } from 'node:os';
import { PassThrough } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import { toVirtosError, type Logger } from '@virtos/core';
import type { EnvironmentEvent, Orchestrator } from '@virtos/orchestrator';
import { EnvironmentSpecSchema } from '@virtos/spec';
import { errorBody } from '../../common/http-status.js';
import { ServerErrors } from '../../errors.js';
import { typed } from '../app.js';
import type { PersonalState } from '../personal-state.js';
import { ErrorBodySchema } from './schemas.js';

/** What the environment routes need. */
export interface EnvironmentRouteDeps {
  readonly state: PersonalState<Orchestrator>;
  /** Aborted when the daemon shuts down: event streams end, waits stop. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** The owner of environments made through this daemon (personal mode: the OS user). */
  readonly owner?: string;
}

/** Longest request text accepted (the composer's own limit is lower). */
const MAX_REQUEST_CHARS = 8192;
/** Heartbeat of event streams, ms: keeps proxies and idle timers from closing them. */
const SSE_HEARTBEAT_MS = 15_000;

const EnvId = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9_-]+$/, 'an environment id: letters, digits, _ and -');
const IdParams = z.object({ id: EnvId });
const RequestText = z.string().min(1).max(MAX_REQUEST_CHARS);
const Spec = EnvironmentSpecSchema;
const FindingSchema = z
  .object({
    kind: z.string(),
    blocking: z.boolean(),
    field: z.string(),
    message: z.string(),
    options: z.array(z.unknown()).readonly().optional(),
    code: z.string().optional(),
  })
  .describe('a finding of the composer, the scheduler or a modify');
const RecordSchema = z
  .object({
    id: z.string(),
    name: z.string(),
    owner: z.string(),
    state: z.enum(['requested', 'provisioning', 'running', 'suspended', 'terminated', 'failed']),
    reason: z.string().optional(),
    host: z.string(),
    spec: z.unknown(),
    findings: z.array(FindingSchema).readonly(),
    priority: z.number(),
    createdAt: z.number(),
    updatedAt: z.number(),
    startedAt: z.number().optional(),
    runtime: z.object({ kind: z.string(), reason: z.string() }).optional(),
    display: z
      .object({
        protocol: z.literal('rfb'),
        socketPath: z.string(),
        width: z.number(),
        height: z.number(),
      })
      .optional(),
  })
  .describe('an environment record');
const EventSchema = z
  .object({
    seq: z.number(),
    at: z.number(),
    envId: z.string(),
    type: z.string(),
    message: z.string(),
    from: z.string().optional(),
    to: z.string().optional(),
    data: z.record(z.string(), z.unknown()).optional(),
  })
  .describe('one entry of an environment history');
const ComposeReply = z.object({
  ok: z.boolean(),
  spec: z.unknown().nullable(),
  findings: z.array(FindingSchema).readonly(),
});
const Errors = { 400: ErrorBodySchema, 404: ErrorBodySchema, 409: ErrorBodySchema };

/** Registers the environment routes. */
export function registerEnvironmentRoutes(app: FastifyInstance, deps: EnvironmentRouteDeps): void {
  const r = typed(app);
  const owner = deps.owner ?? safeUser();
  const orch = () => deps.state.current();
  const tags = ['environments'];

  r.post(
    '/api/compose',
    {
      schema: {
        summary: 'Compose a spec from a request (or edit `base`); nothing is created.',
        tags,
        body: z.object({ request: RequestText, base: Spec.optional() }).strict(),
        response: { 200: ComposeReply, 400: ErrorBodySchema },
      },
    },
    async (req) => {
      const c = orch().compose(req.body.request, req.body.base);
      return { ok: c.ok, spec: c.spec ?? null, findings: c.findings };
    },
  );

  r.post(
    '/api/environments',
    {
      schema: {
        summary:
          'Create an environment from a request (composed) or a spec. 201 with the record; 422 with ' +
          'the findings when the request does not compose. `?wait=true` answers once it is running ' +
          '(or failed).',
        tags,
        querystring: z.object({ wait: z.enum(['true', 'false']).optional() }),
        body: z.union([
          z.object({ request: RequestText, name: z.string().max(63).optional() }).strict(),
          z.object({ spec: Spec, name: z.string().max(63).optional() }).strict(),
        ]),
        response: {
          201: RecordSchema,
          422: ErrorBodySchema.extend({
            ok: z.literal(false),
            spec: z.unknown(),
            findings: z.array(FindingSchema).readonly(),
          }),
          ...Errors,
        },
      },
    },
    async (req, reply) => {
      const wait = req.query.wait === 'true';
      const signal = requestSignal(reply, deps.signal);
      const o = orch();
      const body = req.body;
      if ('request' in body) {
        const { record, compose } = await o.createFromText(
          { request: body.request, owner },
          { wait, signal },
        );
        if (!record) {
          const e = ServerErrors.create(
            'compose_not_ok',
            'The request needs answers before it can be created.',
            {
              hint: 'Read the findings, change the request, and try again.',
            },
          );
          reply.code(422);
          return {
            ...errorBody(e),
            ok: false as const,
            spec: compose.spec ?? null,
            findings: compose.findings,
          };
        }
        reply.code(201);
        return record;
      }
      const record = await o.create(
        { spec: body.spec, owner, ...(body.name !== undefined && { name: body.name }) },
        { wait, signal },
      );
      reply.code(201);
      return record;
    },
  );

  r.get(
    '/api/environments',
    {
      schema: {
        summary: 'List environments (optionally of one state).',
        tags,
        querystring: z.object({
          state: z
            .enum(['requested', 'provisioning', 'running', 'suspended', 'terminated', 'failed'])
            .optional(),
        }),
        response: { 200: z.object({ environments: z.array(RecordSchema).readonly() }) },
      },
    },
    async (req) => ({
      environments: await orch().list(req.query.state ? { state: req.query.state } : {}),
    }),
  );

  r.get(
    '/api/environments/:id',
    {
      schema: {
        summary: 'One environment.',
        tags,
        params: IdParams,
        response: { 200: RecordSchema, ...Errors },
      },
    },
    async (req) => orch().get(req.params.id),
  );

  r.patch(
    '/api/environments/:id',
    {
      schema: {
        summary:
          'Change the desired spec by a request or a whole spec; `applied` says whether it is in ' +
          'effect now or needs a restart.',
        tags,
        params: IdParams,
        body: z.union([
          z.object({ request: RequestText }).strict(),
          z.object({ spec: Spec }).strict(),
        ]),
        response: {
          200: z.object({
            record: RecordSchema,
            applied: z.enum(['live', 'restart-needed', 'none']),
            findings: z.array(FindingSchema).readonly(),
          }),
          ...Errors,
        },
      },
    },
    async (req) => orch().modify(req.params.id, req.body),
  );

  for (const op of ['suspend', 'resume'] as const) {
    r.post(
      `/api/environments/:id/${op}`,
      {
        schema: {
          summary:
            op === 'suspend' ? 'Freeze a running environment.' : 'Thaw a suspended environment.',
          tags,
          params: IdParams,
          response: { 200: RecordSchema, ...Errors },
        },
      },
      async (req) =>
        op === 'suspend' ? orch().suspend(req.params.id) : orch().resume(req.params.id),
    );
  }

  r.delete(
    '/api/environments/:id',
    {
      schema: {
        summary: 'Terminate an environment: everything it had on the host is removed.',
        tags,
        params: IdParams,
        response: { 200: RecordSchema, ...Errors },
      },
    },
    async (req) => orch().terminate(req.params.id),
  );

  r.get(
    '/api/environments/:id/events',
    {
      schema: {
        summary:
          'The event history after `since` as JSON; with `Accept: text/event-stream`, the history ' +
          'then live events as Server-Sent Events (`id:` is the seq).',
        tags,
        params: IdParams,
        querystring: z.object({ since: z.coerce.number().int().min(0).optional() }),
        response: { 200: z.object({ events: z.array(EventSchema).readonly() }), ...Errors },
      },
    },
    async (req, reply) => {
      const o = orch();
      const id = req.params.id;
      const since = req.query.since ?? lastEventId(req) ?? 0;
      await o.get(id); // not_found before any stream starts
      if (!wantsStream(req)) return { events: await o.events(id, since) };
      streamEvents(req, reply, deps, (send) => {
        let last = since;
        const buffered: EnvironmentEvent[] = [];
        let replaying = true;
        const sub = o.onDidChange((e) => {
          if (e.envId !== id) return;
          if (replaying) buffered.push(e);
          else if (e.seq > last) {
            last = e.seq;
            send(e);
          }
        });
        void o.events(id, since).then(
          (history) => {
            for (const e of [...history, ...buffered]) {
              if (e.seq <= last) continue;
              last = e.seq;
              send(e);
            }
            replaying = false;
          },
          () => undefined,
        );
        return sub;
      });
      return reply;
    },
  );

  r.get(
    '/api/events',
    {
      schema: {
        summary: 'Live events of every environment, as Server-Sent Events.',
        tags,
        produces: ['text/event-stream'],
      },
    },
    async (req, reply) => {
      const o = orch();
      streamEvents(req, reply, deps, (send) => o.onDidChange(send));
      return reply;
    },
  );

  r.post(
    '/api/environments/:id/exec',
    {
      schema: {
        summary:
          'Run a command inside a running environment as its user, under its sandbox policy. The ' +
          'answer is NDJSON streamed as the command writes: `{stream:"stdout"|"stderr",data}` ' +
          'lines, then `{exitCode}` (or `{error}` if the exec failed after output began).',
        tags,
        params: IdParams,
        body: z
          .object({
            args: z.array(z.string().max(65_536)).min(1).max(4096),
            env: z.record(z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), z.string()).optional(),
          })
          .strict(),
        produces: ['application/x-ndjson'],
        response: {
          200: z.string().describe('NDJSON: {stream, data} lines, then {exitCode}'),
          ...Errors,
        },
      },
    },
    async (req, reply) => {
      const signal = requestSignal(reply, deps.signal);
      // Output is streamed as it comes (capped at 1 MiB per stream by the runtime). The answer
      // starts only with the first chunk or the end, so errors before any output (unknown id, not
      // running) still answer with a status and a coded body.
      const body = new PassThrough();
      const pending: string[] = [];
      let started = false;
      let onFirst: () => void = () => undefined;
      const first = new Promise<void>((r) => (onFirst = r));
      const emit = (line: string): void => {
        if (started) body.write(line + '\n');
        else {
          pending.push(line);
          onFirst();
        }
      };
      const decoders = { stdout: new TextDecoder(), stderr: new TextDecoder() };
      const chunk = (stream: 'stdout' | 'stderr') => (c: Uint8Array) => {
        const data = decoders[stream].decode(c, { stream: true });
        for (let i = 0; i < data.length; i += 64 * 1024) {
          emit(JSON.stringify({ stream, data: data.slice(i, i + 64 * 1024) }));
        }
      };
      const run = orch().execStream(
        req.params.id,
        { args: req.body.args, ...(req.body.env && { env: req.body.env }) },
        { onStdout: chunk('stdout'), onStderr: chunk('stderr') },
        signal,
      );
      const finish = run.then(
        (res) => {
          for (const stream of ['stdout', 'stderr'] as const) {
            const rest = decoders[stream].decode();
            if (rest) emit(JSON.stringify({ stream, data: rest }));
          }
          emit(JSON.stringify({ exitCode: res.exitCode, truncated: res.truncated }));
        },
        (e: unknown) => {
          if (!started) throw e;
          emit(JSON.stringify(errorBody(toVirtosError(e))));
        },
      );
      await Promise.race([first, finish]);
      started = true;
      for (const line of pending.splice(0)) body.write(line + '\n');
      void finish.then(
        () => body.end(),
        () => body.end(),
      );
      reply.type('application/x-ndjson');
      // A stream is piped as is (the schema's string describes the NDJSON text it carries).
      return reply.send(body as unknown as string);
    },
  );
}

function safeUser(): string {
  try {
    return userInfo().username || 'local';
  } catch {
    return 'local';
  }
}

function wantsStream(req: FastifyRequest): boolean {
  return (req.headers.accept ?? '').includes('text/event-stream');
}

function lastEventId(req: FastifyRequest): number | undefined {
  const v = req.headers['last-event-id'];
  const n = Number(Array.isArray(v) ? v[0] : v);
  return Number.isInteger(n) && n >= 0 ? n : undefined;
}

/**
 * An AbortSignal that fires when the client goes away before the answer was sent, or the daemon
 * shuts down. It listens on the response (one per request), never on the keep-alive socket, where
 * listeners would pile up request after request.
 */
function requestSignal(reply: FastifyReply, shutdown: AbortSignal): AbortSignal {
  const ac = new AbortController();
  const res = reply.raw;
  res.once('close', () => {
    if (!res.writableFinished) ac.abort();
  });
  return AbortSignal.any([ac.signal, shutdown]);
}

/**
 * Serves a Server-Sent Events stream: each event as `id: <seq>`, `event: <type>`, `data: <json>`.
 * Ends when the client leaves, the vault locks or the daemon shuts down.
 */
function streamEvents(
  req: FastifyRequest,
  reply: FastifyReply,
  deps: EnvironmentRouteDeps,
  subscribe: (send: (e: EnvironmentEvent) => void) => { dispose(): void },
): void {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, {
    'Content-Type': 'text/event-stream; charset=utf-8',
    'Cache-Control': 'no-store',
    'X-Content-Type-Options': 'nosniff',
    Connection: 'keep-alive',
  });
  res.write(': virtos events\n\n');
  const send = (e: EnvironmentEvent) => {
    res.write(`id: ${e.seq}\nevent: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`);
  };
  const sub = subscribe(send);
  const beat = setInterval(() => res.write(': keep-alive\n\n'), SSE_HEARTBEAT_MS);
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(beat);
    sub.dispose();
    lockSub.dispose();
    deps.signal.removeEventListener('abort', end);
    res.end();
  };
  const lockSub = deps.state.onDidLock(end);
  deps.signal.addEventListener('abort', end, { once: true });
  res.once('close', end);
}
