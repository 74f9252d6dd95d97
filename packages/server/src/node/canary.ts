/**
 * The canary: at start and then periodically, the daemon hashes its own code and the shell bundle
 * it serves and compares them with the manifest written when the shell was built
 * (`packages/shell/dist/canary-manifest.json`). A mismatch is logged as an error, kept for the shell
 * (which shows a full-screen alert) and appended to the vault's audit log as soon as the vault is
 * unlocked. It detects files changed on disk after the build (a tampered bundle or daemon file);
 * it cannot protect against an attacker who rewrites the manifest too, which is why the manifest's
 * own digest is shown to the user to compare with the one printed by the build.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Clock, Disposable, Logger } from '@virtos/core';

/** The repository root, found from this file's place (packages/server/src/node/canary.ts). */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
/** Where the built shell lives. */
export const SHELL_DIST = join(REPO_ROOT, 'packages', 'shell', 'dist');
/** The manifest the shell build writes. */
export const CANARY_MANIFEST = 'canary-manifest.json';

/** The build-time manifest: SHA-256 (hex) by path. */
export interface CanaryManifest {
  readonly version: 1;
  readonly createdAt: string;
  /** Files of the shell bundle, relative to dist/. */
  readonly shell: Readonly<Record<string, string>>;
  /** Files of the daemon's code, relative to the repository root. */
  readonly daemon: Readonly<Record<string, string>>;
}

/** One file that differs from the manifest. */
export interface CanaryMismatch {
  readonly part: 'shell' | 'daemon';
  readonly path: string;
  readonly problem: 'changed' | 'missing' | 'unexpected';
}

/** The latest result. `unbuilt`: there is no manifest (the shell was never built). */
export interface CanaryStatus {
  readonly state: 'ok' | 'mismatch' | 'unbuilt';
  /** ms since the epoch of the last check. */
  readonly checkedAt: number;
  readonly mismatches: readonly CanaryMismatch[];
  /** SHA-256 of the manifest itself (hex), for comparison with the build's output. */
  readonly manifestDigest?: string;
  readonly filesChecked: number;
}

/** An audit record written to the vault for each mismatch found. */
export interface CanaryAuditEntry {
  readonly at: number;
  readonly action: 'canary.mismatch';
  readonly details: { readonly mismatches: readonly CanaryMismatch[] };
}

function sha256(b: Buffer): string {
  return createHash('sha256').update(b).digest('hex');
}

/** Every regular file under `dir`, as paths relative to it with `/` separators. */
export function listFiles(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  walk(dir);
  return out.sort();
}

/** Compares the files on disk with `manifest`. Pure apart from reading the files. */
export function compareWithManifest(
  manifest: CanaryManifest,
  distDir: string,
  repoRoot: string,
): { mismatches: CanaryMismatch[]; filesChecked: number } {
  const mismatches: CanaryMismatch[] = [];
  let filesChecked = 0;
  const check = (part: 'shell' | 'daemon', base: string, entries: Record<string, string>) => {
    for (const [path, want] of Object.entries(entries)) {
      // SECURITY: manifest paths never leave their base directory.
      if (path.split('/').includes('..') || path.startsWith('/')) {
        mismatches.push({ part, path, problem: 'unexpected' });
        continue;
      }
      filesChecked++;
      let got: string;
      try {
        got = sha256(readFileSync(join(base, path)));
      } catch {
        mismatches.push({ part, path, problem: 'missing' });
        continue;
      }
      if (got !== want) mismatches.push({ part, path, problem: 'changed' });
    }
  };
  check('shell', distDir, manifest.shell);
  check('daemon', repoRoot, manifest.daemon);
  // SECURITY: a file added to the bundle (an extra script) is as suspicious as a changed one.
  for (const f of listFiles(distDir)) {
    if (f !== CANARY_MANIFEST && !(f in manifest.shell)) {
      mismatches.push({ part: 'shell', path: f, problem: 'unexpected' });
    }
  }
  return { mismatches, filesChecked };
}

/** Options of {@link CanaryMonitor}. */
export interface CanaryMonitorOptions {
  readonly logger: Logger;
  readonly clock: Clock;
  /** Re-check period in ms (default 60 s). */
  readonly intervalMs?: number;
  readonly distDir?: string;
  readonly repoRoot?: string;
  /** Called after a new finding was queued for the audit log (the caller writes it when it can). */
  readonly onDidQueueAudit?: () => void;
}

/** Runs the check at start and every `intervalMs`, and keeps mismatches for the audit log. */
export class CanaryMonitor implements Disposable {
  private last: CanaryStatus;
  private timer: Disposable | undefined;
  private pending: CanaryAuditEntry[] = [];
  private readonly distDir: string;
  private readonly repoRoot: string;

  constructor(private readonly options: CanaryMonitorOptions) {
    this.distDir = options.distDir ?? SHELL_DIST;
    this.repoRoot = options.repoRoot ?? REPO_ROOT;
    this.last = this.check();
  }

  /** The latest result. */
  get status(): CanaryStatus {
    return this.last;
  }

  /** Starts the periodic re-check. */
  start(): void {
    const every = this.options.intervalMs ?? 60_000;
    const tick = () => {
      this.check();
      this.timer = this.options.clock.setTimeout(tick, every);
    };
    this.timer = this.options.clock.setTimeout(tick, every);
  }

  /** Checks now; logs and queues an audit entry when something differs. */
  check(): CanaryStatus {
    const now = this.options.clock.now();
    let raw: Buffer;
    try {
      statSync(this.distDir);
      raw = readFileSync(join(this.distDir, CANARY_MANIFEST));
    } catch {
      this.last = { state: 'unbuilt', checkedAt: now, mismatches: [], filesChecked: 0 };
      return this.last;
    }
    let manifest: CanaryManifest;
    try {
      manifest = JSON.parse(raw.toString('utf8')) as CanaryManifest;
      if (manifest.version !== 1 || typeof manifest.shell !== 'object') throw new Error('shape');
    } catch {
      manifest = { version: 1, createdAt: '', shell: {}, daemon: {} };
    }
    const { mismatches, filesChecked } = compareWithManifest(manifest, this.distDir, this.repoRoot);
    if (filesChecked === 0 && mismatches.length === 0) {
      mismatches.push({ part: 'shell', path: CANARY_MANIFEST, problem: 'changed' });
    }
    const wasKnown = this.last?.state === 'mismatch' ? JSON.stringify(this.last.mismatches) : '';
    this.last = {
      state: mismatches.length ? 'mismatch' : 'ok',
      checkedAt: now,
      mismatches,
      manifestDigest: sha256(raw),
      filesChecked,
    };
    // One audit entry and one log line per new finding, not one per period.
    if (mismatches.length && JSON.stringify(mismatches) !== wasKnown) {
      this.options.logger.error('canary: files differ from the build manifest', {
        count: mismatches.length,
        first: mismatches.slice(0, 5).map((m) => `${m.part}:${m.path}:${m.problem}`),
        hint: 'Rebuild from a trusted checkout (npm run build) and compare the manifest digest.',
      });
      this.pending.push({ at: now, action: 'canary.mismatch', details: { mismatches } });
      this.options.onDidQueueAudit?.();
    }
    return this.last;
  }

  /** Takes the audit entries not yet written (the caller writes them to the vault). */
  drainAudit(): CanaryAuditEntry[] {
    const p = this.pending;
    this.pending = [];
    return p;
  }

  /** Puts entries back after a failed write. */
  requeue(entries: CanaryAuditEntry[]): void {
    this.pending.unshift(...entries);
  }

  dispose(): void {
    this.timer?.dispose();
    this.timer = undefined;
  }
}
