/**
 * The wire format between a module and the shell: a handshake message that hands a MessagePort to
 * the module, then request/response frames over that port. Parsers return `undefined` for
 * anything that is not a well-formed frame, so neither side ever acts on a malformed message.
 */

/** Protocol version carried in every frame. */
export const PROTOCOL_VERSION = 1;
/** The `type` of the handshake message the shell posts to a module's window. */
export const CONNECT_TYPE = 'virtos:connect';
/** Largest request id before it wraps (ids are per connection). */
const MAX_ID = 2 ** 31 - 1;

/** A call from a module. `id` is unique among the module's pending calls. */
export interface RpcRequest {
  readonly v: 1;
  readonly id: number;
  readonly method: string;
  readonly params: unknown;
}

/** A coded error as it crosses the boundary (`module.capability_denied`, `vault.no_such_item`…). */
export interface RpcErrorBody {
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

/** The answer to one request. */
export type RpcResponse =
  | { readonly v: 1; readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly v: 1; readonly id: number; readonly ok: false; readonly error: RpcErrorBody };

/** The handshake: posted once to the module's window with the port in `ports[0]`. */
export interface ConnectMessage {
  readonly type: typeof CONNECT_TYPE;
  readonly v: 1;
  /** The module's id as installed (for the module's own display; not a secret). */
  readonly moduleId: string;
}

/** The error a module sees when a call fails: a code, a message and maybe a hint. */
export class RpcError extends Error {
  override readonly name = 'RpcError';
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
  /** The body for a response frame. */
  toBody(): RpcErrorBody {
    return this.hint === undefined
      ? { code: this.code, message: this.message }
      : { code: this.code, message: this.message, hint: this.hint };
  }
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

function isId(x: unknown): x is number {
  return typeof x === 'number' && Number.isInteger(x) && x >= 0 && x <= MAX_ID;
}

/** Parses a request frame; `undefined` when it is not one. */
export function parseRequest(data: unknown): RpcRequest | undefined {
  if (!isRecord(data) || data['v'] !== PROTOCOL_VERSION || !isId(data['id'])) return undefined;
  const method = data['method'];
  if (typeof method !== 'string' || method.length === 0 || method.length > 64) return undefined;
  return { v: 1, id: data['id'], method, params: data['params'] };
}

/** Parses a response frame; `undefined` when it is not one. */
export function parseResponse(data: unknown): RpcResponse | undefined {
  if (!isRecord(data) || data['v'] !== PROTOCOL_VERSION || !isId(data['id'])) return undefined;
  if (data['ok'] === true) return { v: 1, id: data['id'], ok: true, result: data['result'] };
  if (data['ok'] !== false) return undefined;
  const e = data['error'];
  if (!isRecord(e) || typeof e['code'] !== 'string' || typeof e['message'] !== 'string') {
    return undefined;
  }
  const error: RpcErrorBody =
    typeof e['hint'] === 'string'
      ? { code: e['code'], message: e['message'], hint: e['hint'] }
      : { code: e['code'], message: e['message'] };
  return { v: 1, id: data['id'], ok: false, error };
}

/** Parses the handshake; `undefined` when it is not one. */
export function parseConnect(data: unknown): ConnectMessage | undefined {
  if (!isRecord(data) || data['type'] !== CONNECT_TYPE || data['v'] !== PROTOCOL_VERSION) {
    return undefined;
  }
  const moduleId = data['moduleId'];
  if (typeof moduleId !== 'string') return undefined;
  return { type: CONNECT_TYPE, v: 1, moduleId };
}

/** An event pushed by the shell (no id, no answer). */
export interface RpcEvent {
  readonly v: 1;
  readonly event: string;
  readonly data: unknown;
}

/** Parses an event frame; `undefined` when it is not one. */
export function parseEvent(data: unknown): RpcEvent | undefined {
  if (!isRecord(data) || data['v'] !== PROTOCOL_VERSION || 'id' in data) return undefined;
  const event = data['event'];
  if (typeof event !== 'string' || event.length === 0 || event.length > 64) return undefined;
  return { v: 1, event, data: data['data'] };
}

/** Buffers inside a result or params that should move rather than be copied. */
export function transferablesOf(x: unknown): Transferable[] {
  if (x instanceof ArrayBuffer) return [x];
  if (ArrayBuffer.isView(x) && x.buffer instanceof ArrayBuffer) return [x.buffer];
  if (isRecord(x)) {
    const out: Transferable[] = [];
    for (const v of Object.values(x)) {
      if (v instanceof ArrayBuffer) out.push(v);
    }
    return out;
  }
  return [];
}

/** The smallest port surface both sides need (a MessagePort, or a fake in tests). */
export interface PortLike {
  postMessage(message: unknown, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
  removeEventListener(type: 'message', listener: (ev: MessageEvent) => void): void;
  start?(): void;
  close?(): void;
}

/** Handles one request on the host side; throws {@link RpcError} for coded failures. */
export type RpcHandler = (method: string, params: unknown) => Promise<unknown>;

/**
 * Serves requests arriving on `port` with `handler` (the shell's side). Malformed frames are
 * dropped; every well-formed request gets exactly one response. Returns a function that stops.
 */
export function serveRpc(port: PortLike, handler: RpcHandler): () => void {
  let isOpen = true;
  const onMessage = (ev: MessageEvent): void => {
    const req = parseRequest(ev.data);
    if (!req) return;
    void (async () => {
      let res: RpcResponse;
      try {
        const result = await handler(req.method, req.params);
        res = { v: 1, id: req.id, ok: true, result };
      } catch (e) {
        const body =
          e instanceof RpcError
            ? e.toBody()
            : { code: 'module.internal', message: 'The shell could not complete the call.' };
        res = { v: 1, id: req.id, ok: false, error: body };
      }
      if (!isOpen) return;
      port.postMessage(res, res.ok ? transferablesOf(res.result) : []);
    })();
  };
  port.addEventListener('message', onMessage);
  port.start?.();
  return () => {
    isOpen = false;
    port.removeEventListener('message', onMessage);
    port.close?.();
  };
}

/** Calls methods over a port (the module's side). */
export class RpcClient {
  private nextId = 1;
  private readonly pending = new Map<
    number,
    { resolve: (v: unknown) => void; reject: (e: unknown) => void }
  >();
  private readonly listeners = new Map<string, Set<(data: unknown) => void>>();
  private readonly onMessage = (ev: MessageEvent): void => {
    const evt = parseEvent(ev.data);
    if (evt) {
      for (const l of this.listeners.get(evt.event) ?? []) l(evt.data);
      return;
    }
    const res = parseResponse(ev.data);
    if (!res) return;
    const p = this.pending.get(res.id);
    if (!p) return;
    this.pending.delete(res.id);
    if (res.ok) p.resolve(res.result);
    else p.reject(new RpcError(res.error.code, res.error.message, res.error.hint));
  };

  constructor(private readonly port: PortLike) {
    port.addEventListener('message', this.onMessage);
    port.start?.();
  }

  /** Sends one call and waits for its answer. */
  call<T = unknown>(method: string, params: unknown = {}): Promise<T> {
    const id = this.nextId;
    this.nextId = this.nextId >= MAX_ID ? 1 : this.nextId + 1;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      const req: RpcRequest = { v: 1, id, method, params };
      this.port.postMessage(req, transferablesOf(params));
    });
  }

  /** Listens to events the shell pushes (`key` from the embedded keyboard); returns an unsubscribe. */
  on(event: string, listener: (data: unknown) => void): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => set.delete(listener);
  }

  /** Fails every pending call and stops listening. */
  close(): void {
    this.port.removeEventListener('message', this.onMessage);
    for (const p of this.pending.values()) {
      p.reject(new RpcError('module.disconnected', 'The shell closed the connection.'));
    }
    this.pending.clear();
  }
}
