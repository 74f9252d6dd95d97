/**
 * Capabilities a module may request in its manifest, and the one table that says which capability
 * each RPC method needs. The shell's broker checks every call against this table and the
 * capabilities the user granted; the table lives here so modules and broker cannot disagree.
 */

/** Every capability, in the order the install dialog shows them. There is no raw network one. */
export const CAPABILITIES = [
  'notes:read',
  'notes:write',
  'files:read',
  'files:write',
  'environments:manage',
  'search',
  'settings:read',
  'settings:write',
  'audit:read',
  'ai:summarize',
] as const;

/** A capability a module may request. */
export type Capability = (typeof CAPABILITIES)[number];

/** True for a known capability string. */
export function isCapability(x: unknown): x is Capability {
  return typeof x === 'string' && (CAPABILITIES as readonly string[]).includes(x);
}

/** What each capability lets a module do, for the install dialog. */
export const CAPABILITY_DESCRIPTIONS: Readonly<Record<Capability, string>> = {
  'notes:read': 'Read your notes and their revisions',
  'notes:write': 'Create, change and delete notes',
  'files:read': 'Read and download files in the vault',
  'files:write': 'Add, replace and delete files in the vault',
  'environments:manage':
    'Request, start, suspend and terminate environments, follow their progress and open their windows',
  search: 'Search across notes and file names',
  'settings:read': 'Read settings',
  'settings:write': 'Change settings',
  'audit:read': 'See vault status, integrity and the audit log; lock the vault',
  'ai:summarize': 'Ask the local AI to summarise text',
};

/**
 * RPC methods and the capability each needs; `null` means "only the module's own data or UI" (no
 * capability: every module may keep its own records and ask the shell for a download).
 */
export const METHOD_CAPABILITY = {
  'notes.list': 'notes:read',
  'notes.get': 'notes:read',
  'notes.revisions': 'notes:read',
  'notes.create': 'notes:write',
  'notes.update': 'notes:write',
  'notes.remove': 'notes:write',
  'files.list': 'files:read',
  'files.read': 'files:read',
  'files.put': 'files:write',
  'files.remove': 'files:write',
  'search.query': 'search',
  'settings.list': 'settings:read',
  'settings.get': 'settings:read',
  'settings.set': 'settings:write',
  'audit.list': 'audit:read',
  'security.status': 'audit:read',
  'security.lock': 'audit:read',
  'environments.compose': 'environments:manage',
  'environments.create': 'environments:manage',
  'environments.list': 'environments:manage',
  'environments.get': 'environments:manage',
  'environments.suspend': 'environments:manage',
  'environments.resume': 'environments:manage',
  'environments.terminate': 'environments:manage',
  'environments.events': 'environments:manage',
  'environments.watch': 'environments:manage',
  'environments.unwatch': 'environments:manage',
  'shell.openEnvironment': 'environments:manage',
  'ai.summarize': 'ai:summarize',
  'storage.get': null,
  'storage.set': null,
  'shell.download': 'files:read',
} as const satisfies Record<string, Capability | null>;

/** An RPC method name. */
export type MethodName = keyof typeof METHOD_CAPABILITY;

/** True for a known method name. */
export function isMethodName(x: unknown): x is MethodName {
  return typeof x === 'string' && Object.prototype.hasOwnProperty.call(METHOD_CAPABILITY, x);
}
