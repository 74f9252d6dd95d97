/**
 * The shell's module system: manifest validation, the capability broker, the sandboxed frame
 * host and the Module Manager client. See docs/modules.md.
 */
export { BrokerErrorCodes, ModuleBroker } from './broker.js';
export type { BrokerDecision, BrokerEmit, BrokerHooks, ModuleBrokerOptions } from './broker.js';
export { fetchTransport } from './daemon-transport.js';
export type { DaemonTransport, SessionHeaders } from './daemon-transport.js';
export { mountModule } from './host.js';
export type { MountOptions, MountedModule } from './host.js';
export { ModuleManifestSchema, validateManifest } from './manifest.js';
export type { ManifestResult } from './manifest.js';
export { ModuleManager, downloadInShell } from './manager.js';
export type { InstalledModule, ModuleManagerOptions, ModulePackage } from './manager.js';
export { followSse } from './sse.js';
export type { SseEnd, SseMessage } from './sse.js';
