/**
 * @module @virtos/module-sdk
 * The only API a VirtOS module (a sandboxed plugin app) may import. A module runs in an iframe
 * without same-origin and without network; the shell hands it a MessagePort and answers
 * capability-checked RPC calls on it (`connect()`). The shell's broker uses the same framing
 * (`serveRpc`) and the same method -> capability table. Imports nothing. See docs/modules.md.
 */
export {
  CAPABILITIES,
  CAPABILITY_DESCRIPTIONS,
  METHOD_CAPABILITY,
  isCapability,
  isMethodName,
} from './capabilities.js';
export type { Capability, MethodName } from './capabilities.js';
export {
  CONNECT_TYPE,
  PROTOCOL_VERSION,
  RpcClient,
  RpcError,
  parseConnect,
  parseEvent,
  parseRequest,
  parseResponse,
  serveRpc,
  transferablesOf,
} from './protocol.js';
export type {
  ConnectMessage,
  PortLike,
  RpcErrorBody,
  RpcEvent,
  RpcHandler,
  RpcRequest,
  RpcResponse,
} from './protocol.js';
export { ENV_EVENT, ENV_WATCH_END, connect, moduleApi } from './client.js';
export type { HandshakeSource, VirtosModule } from './client.js';
export type {
  AuditEntryView,
  ComposeView,
  EnvironmentEventView,
  EnvironmentState,
  EnvironmentView,
  FileView,
  FindingView,
  ModuleManifest,
  NoteView,
  SearchHitView,
  SecurityStatusView,
} from './types.js';
export { formatBytes, formatTime, h, render } from './ui.js';
export type { Child, Props } from './ui.js';
