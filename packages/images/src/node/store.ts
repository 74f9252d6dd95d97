/**
 * The content-addressed layer cache and the builds that fill it.
 *
 * Layout of the cache directory:
 *   layers/<id>/manifest.json   the layer's manifest (written last: no manifest, no layer)
 *   layers/<id>/tree/           the layer's files (a base tree, or an overlay upper dir)
 *   tmp/<id>.<pid>.<rand>/      builds in progress; renamed to layers/<id> when complete
 */
import { randomBytes } from 'node:crypto';
import { access, mkdir, readFile, readdir, rename, rm, rmdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import {
  CoreErrors,
  isCancellation,
  nullLogger,
  systemClock,
  throwIfAborted,
  type Clock,
  type Logger,
} from '@virtos/core';
import type { Distro } from '@virtos/spec';
import { ImageErrors } from '../common/errors.js';
import { packagesAdded, parseManifest } from '../common/manifest.js';
import { newProgressState, parseProgressLine, type ProgressState } from '../common/progress.js';
import { DESKTOP_PACKAGES } from '../common/request.js';
import type {
  BuildProgress,
  EnsureOptions,
  ImageRequest,
  ImageStore,
  LayerInfo,
  LayerKind,
  LayerManifest,
  LayerOutcome,
  LayerPackage,
  PruneOptions,
  ResolvedImage,
  VerifyResult,
} from '../common/types.js';
import { builderKindFor, defaultBuilders, type DistroBuilder } from './builders.js';
import { nodeExec, type Exec, type ExecResult } from './exec.js';
import { computeLayerId, normalizePackages, shortId } from './layer-id.js';
import { lowerDirOption, runMount, unmountIfMounted } from './mount.js';
import { mountsUnder, readMounts } from './mountinfo.js';
import { hashTree } from './tree-hash.js';

/** Options of {@link createImageStore}. */
export interface ImageStoreOptions {
  /** The cache directory (absolute, or resolved against the working directory). */
  readonly cacheDir: string;
  readonly logger?: Logger;
  readonly clock?: Clock;
  readonly exec?: Exec;
  /** Builders by kind; defaults to {@link defaultBuilders}. */
  readonly builders?: Partial<Record<DistroBuilder['kind'], DistroBuilder>>;
  /** Whether the process may mount and chroot; default: uid is 0. */
  readonly isRoot?: () => boolean;
  /** Least time between two progress reports of the same phase, ms. Default 250. */
  readonly progressIntervalMs?: number;
}

interface PlannedLayer {
  readonly id: string;
  readonly kind: LayerKind;
  readonly parent: string | null;
  readonly packages: readonly string[];
}

const ID_RE = /^[0-9a-f]{64}$/;

/** Build dirs in use by any store of this process (never swept as leftovers). */
const ownWork = new Set<string>();

/** Makes the image store over `opts.cacheDir`. Nothing touches the disk until a method is called. */
export function createImageStore(opts: ImageStoreOptions): ImageStore {
  return new LayerStore(opts);
}

class LayerStore implements ImageStore {
  readonly cacheDir: string;
  private readonly layersDir: string;
  private readonly tmpDir: string;
  private readonly log: Logger;
  private readonly clock: Clock;
  private readonly exec: Exec;
  private readonly builders: Record<DistroBuilder['kind'], DistroBuilder>;
  private readonly isRoot: () => boolean;
  private readonly progressIntervalMs: number;
  private readonly building = new Map<string, Promise<LayerInfo>>();
  private readonly identities = new Map<string, Promise<string>>();

  constructor(opts: ImageStoreOptions) {
    this.cacheDir = resolve(opts.cacheDir);
    this.layersDir = join(this.cacheDir, 'layers');
    this.tmpDir = join(this.cacheDir, 'tmp');
    this.log = opts.logger ?? nullLogger;
    this.clock = opts.clock ?? systemClock;
    this.exec = opts.exec ?? nodeExec;
    this.builders = { ...defaultBuilders(), ...opts.builders };
    this.isRoot = opts.isRoot ?? (() => process.getuid?.() === 0);
    this.progressIntervalMs = opts.progressIntervalMs ?? 250;
  }

  private builderFor(distro: Distro): DistroBuilder {
    return this.builders[builderKindFor(distro)];
  }

  private identity(b: DistroBuilder): Promise<string> {
    let p = this.identities.get(b.kind);
    if (!p) {
      p = b.identity(this.exec);
      this.identities.set(b.kind, p);
    }
    return p;
  }

  /** The layers `req` needs, lowest first, with their ids. Builds nothing. */
  async plan(req: ImageRequest): Promise<PlannedLayer[]> {
    if (!/^[a-z0-9][a-z0-9.-]*$/.test(req.release)) {
      throw ImageErrors.create('invalid_request', `'${req.release}' is not a release name.`, {
        subject: req.release,
        hint: 'Use a release id of the catalog such as bookworm.',
      });
    }
    const builder = this.builderFor(req.distro);
    const ident = await this.identity(builder);
    const common = { builder: ident, distro: req.distro, release: req.release };
    const out: PlannedLayer[] = [];
    const baseId = computeLayerId({
      ...common,
      kind: 'base',
      parent: null,
      variant: builder.variant,
      packages: [],
    });
    out.push({ id: baseId, kind: 'base', parent: null, packages: [] });
    if (req.display === 'desktop') {
      const pk = normalizePackages(DESKTOP_PACKAGES);
      const parent = out[out.length - 1]?.id ?? null;
      out.push({
        id: computeLayerId({ ...common, kind: 'desktop', parent, packages: pk }),
        kind: 'desktop',
        parent,
        packages: pk,
      });
    }
    const apps = normalizePackages(req.packages);
    if (apps.length > 0) {
      const parent = out[out.length - 1]?.id ?? null;
      out.push({
        id: computeLayerId({ ...common, kind: 'apps', parent, packages: apps }),
        kind: 'apps',
        parent,
        packages: apps,
      });
    }
    return out;
  }

  async ensure(req: ImageRequest, opts: EnsureOptions = {}): Promise<ResolvedImage> {
    throwIfAborted(opts.signal, 'image build');
    const plan = await this.plan(req);
    const layers: LayerInfo[] = [];
    const outcomes: LayerOutcome[] = [];
    for (const step of plan) {
      const started = this.clock.monotonic();
      const existing = await this.get(step.id);
      if (existing) {
        layers.push(existing);
        outcomes.push({ id: step.id, kind: step.kind, built: false, buildMs: 0 });
        opts.onProgress?.({
          layer: step.id,
          phase: 'reused',
          elapsedMs: 0,
          message: `${step.kind} layer ${shortId(step.id)} is cached`,
        });
        continue;
      }
      let pending = this.building.get(step.id);
      const mine = pending === undefined;
      if (!pending) {
        pending = this.build(req, step, layers.slice(), opts).finally(() =>
          this.building.delete(step.id),
        );
        this.building.set(step.id, pending);
      }
      const info = await pending;
      layers.push(info);
      outcomes.push({
        id: step.id,
        kind: step.kind,
        built: mine,
        buildMs: mine ? Math.round(this.clock.monotonic() - started) : 0,
      });
    }
    const top = layers[layers.length - 1];
    if (!top) throw CoreErrors.create('internal', 'An image without layers was planned.');
    return { key: top.id, layers, outcomes };
  }

  /** Fails early, with a hint, when this host cannot build at all. */
  private async preflight(req: ImageRequest, builder: DistroBuilder): Promise<void> {
    if (!this.isRoot()) {
      throw ImageErrors.create(
        'not_root',
        `Building ${req.distro} ${req.release} layers needs root.`,
        {
          subject: `${req.distro}/${req.release}`,
          hint: 'Run as root (mmdebstrap root mode, overlay mounts and chroot need it), or use layers already in the cache.',
        },
      );
    }
    const avail = await builder.availability(this.exec, req.distro);
    if (!avail.available) {
      const toolMissing = /not installed/.test(avail.reason);
      throw ImageErrors.create(
        toolMissing ? 'tool_missing' : 'unavailable',
        `Cannot build ${req.distro} ${req.release}: ${avail.reason}.`,
        {
          subject: req.distro,
          hint: toolMissing
            ? `Install ${builder.tool} (scripts/setup.sh installs the Debian tools).`
            : 'Pick a distro whose mirror is reachable (on these machines: debian).',
          details: { builder: builder.kind },
        },
      );
    }
  }

  private async build(
    req: ImageRequest,
    step: PlannedLayer,
    below: LayerInfo[],
    opts: EnsureOptions,
  ): Promise<LayerInfo> {
    const builder = this.builderFor(req.distro);
    await this.preflight(req, builder);
    await this.sweepTmp();
    const started = this.clock.monotonic();
    const work = join(this.tmpDir, `${step.id}.${process.pid}.${randomBytes(4).toString('hex')}`);
    const tree = join(work, 'tree');
    ownWork.add(basename(work));
    await mkdir(work, { recursive: true, mode: 0o700 });
    const log = this.log.child({ layer: shortId(step.id), kind: step.kind });
    log.info('building layer', {
      distro: req.distro,
      release: req.release,
      packages: step.packages.length,
    });
    const state = newProgressState();
    let lastReport = -Infinity;
    let lastPhase = '';
    const report = (force = false) => {
      const now = this.clock.monotonic();
      if (!force && state.phase === lastPhase && now - lastReport < this.progressIntervalMs) return;
      lastReport = now;
      lastPhase = state.phase;
      const p: BuildProgress = {
        layer: step.id,
        phase: state.phase,
        elapsedMs: Math.round(now - started),
        packagesDone: state.packagesDone,
        bytes: state.bytes,
        ...(state.packagesTotal > 0 && { packagesTotal: state.packagesTotal }),
        ...(state.message !== undefined && { message: `${step.kind}: ${state.message}` }),
      };
      opts.onProgress?.(p);
    };
    const onLine = (line: string) => {
      if (parseProgressLine(state, line)) report();
    };
    try {
      let packages: LayerPackage[];
      if (step.kind === 'base') {
        packages = await this.buildBase(req, builder, tree, state, onLine, opts.signal);
      } else {
        packages = await this.buildUpper(builder, step, below, work, state, onLine, opts.signal);
      }
      throwIfAborted(opts.signal, 'image build');
      state.phase = 'manifest';
      state.message = 'hashing the tree';
      report(true);
      const stats = await hashTree(tree, opts.signal);
      const manifest: LayerManifest = {
        id: step.id,
        kind: step.kind,
        parent: step.parent,
        distro: req.distro,
        release: req.release,
        packages,
        requested: step.packages,
        sizeBytes: stats.sizeBytes,
        entries: stats.entries,
        treeHash: stats.treeHash,
        createdAt: new Date(this.clock.now()).toISOString(),
        buildMs: Math.round(this.clock.monotonic() - started),
        builder: await this.identity(builder),
      };
      await writeFile(join(work, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
      await mkdir(this.layersDir, { recursive: true });
      const final = join(this.layersDir, step.id);
      try {
        // Atomic: the layer appears complete (tree + manifest) or not at all.
        await rename(work, final);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST') throw e;
        log.info('another process built the layer first; using theirs');
        await this.removeTmp(work);
      }
      state.phase = 'done';
      state.message = `${step.kind} layer ${shortId(step.id)} built`;
      report(true);
      ownWork.delete(basename(work));
      log.info('layer built', {
        ms: manifest.buildMs,
        bytes: manifest.sizeBytes,
        packages: packages.length,
      });
      const info = await this.get(step.id);
      if (!info) throw CoreErrors.create('internal', `Layer ${step.id} vanished after its build.`);
      return info;
    } catch (e) {
      if (isCancellation(e)) log.info('build cancelled');
      else log.warn('build failed', { error: (e as Error).message });
      ownWork.delete(basename(work));
      await this.removeTmp(work).catch((re: unknown) =>
        log.error('cleanup failed', { error: String(re) }),
      );
      throw e;
    }
  }

  private async buildBase(
    req: ImageRequest,
    builder: DistroBuilder,
    tree: string,
    state: ProgressState,
    onLine: (l: string) => void,
    signal: AbortSignal | undefined,
  ): Promise<LayerPackage[]> {
    state.phase = 'bootstrap';
    const argv = builder.baseCommand({ distro: req.distro, release: req.release, target: tree });
    // SECURITY: the builder writes only into `tree`, a fresh directory inside our private tmp dir;
    // packages come from the distro's signed mirror (mmdebstrap verifies with the archive keyring).
    const r = await this.exec(argv, { onLine, ...(signal && { signal }) });
    if (r.code !== 0) throw this.buildError(r, `${builder.tool} (${req.distro} ${req.release})`);
    for (const cmd of builder.baseSetupCommands()) {
      // SECURITY: chroot into the tree we just built from signed packages, to create the desktop
      // user with the tree's own tools; nothing of the host is mounted into it.
      const s = await this.exec(['chroot', tree, ...cmd], { onLine, ...(signal && { signal }) });
      if (s.code !== 0) throw this.buildError(s, 'base set-up (desktop user)');
    }
    return builder.listPackages(this.exec, tree);
  }

  private async buildUpper(
    builder: DistroBuilder,
    step: PlannedLayer,
    below: readonly LayerInfo[],
    work: string,
    state: ProgressState,
    onLine: (l: string) => void,
    signal: AbortSignal | undefined,
  ): Promise<LayerPackage[]> {
    const upper = join(work, 'tree');
    const ovlWork = join(work, 'work');
    const merged = join(work, 'merged');
    await mkdir(upper, { mode: 0o755 });
    await mkdir(ovlWork);
    await mkdir(merged);
    const lower = lowerDirOption(below.map((l) => l.path));
    const mounted: string[] = [];
    try {
      // SECURITY: the lower layers are read-only to overlayfs; every change lands in `upper`, a
      // directory private to this build, which becomes the new layer.
      await runMount(
        this.exec,
        [
          'mount',
          '-t',
          'overlay',
          '-o',
          `lowerdir=${lower},upperdir=${upper},workdir=${ovlWork}`,
          'virtos-build',
          merged,
        ],
        merged,
      );
      mounted.push(merged);
      // SECURITY: a fresh procfs for maintainer scripts (they read /proc/self); it is unmounted
      // below before the tree is kept, and the host's /dev and /sys are NOT mounted in.
      await runMount(
        this.exec,
        ['mount', '-t', 'proc', '-o', 'nosuid,nodev,noexec', 'proc', join(merged, 'proc')],
        'proc',
      );
      mounted.push(join(merged, 'proc'));
      // apt in the chroot needs DNS: bind the host's resolv.conf over the tree's (read-only), so
      // it is never copied into the layer.
      const resolvConf = join(merged, 'etc', 'resolv.conf');
      if (await exists(resolvConf)) {
        // SECURITY: read-only bind of one host file that holds only name server addresses.
        await runMount(
          this.exec,
          ['mount', '--bind', '-o', 'ro', '/etc/resolv.conf', resolvConf],
          resolvConf,
        );
        mounted.push(resolvConf);
      }
      const policy = join(merged, 'usr', 'sbin', 'policy-rc.d');
      const hadPolicy = await exists(policy);
      if (!hadPolicy)
        await writeFile(policy, '#!/bin/sh\n# virtos build: start no services\nexit 101\n', {
          mode: 0o755,
        });
      const total = step.packages.length;
      state.message = `installing ${total} requested packages`;
      for (const cmd of builder.installCommands(step.packages)) {
        throwIfAborted(signal, 'image build');
        // SECURITY: chroot into the build overlay to run the distro's package manager on signed
        // packages; the host is reachable only through the procfs and resolv.conf mounted above.
        const r = await this.exec(['chroot', merged, ...cmd], {
          onLine,
          env: { DEBIAN_FRONTEND: 'noninteractive', HOME: '/root' },
          ...(signal && { signal }),
        });
        if (r.code !== 0)
          throw this.buildError(r, `${cmd.slice(0, 2).join(' ')} (${step.kind} layer)`);
      }
      // Font caches of desktop stacks are built now, once, so no environment builds them at start
      // (fontconfig otherwise writes per-user caches for every font directory it finds stale:
      // ~5 s of CPU per desktop start, during which openbox manages no window).
      const onDesktop = step.kind === 'desktop' || below.some((l) => l.manifest.kind === 'desktop');
      if (onDesktop && (await exists(join(merged, 'usr', 'bin', 'fc-cache')))) {
        state.message = 'building font caches';
        // SECURITY: runs a binary of the layer just installed from signed packages, in the same
        // chroot as the package manager; it writes only /var/cache/fontconfig of the new layer.
        const r = await this.exec(['chroot', merged, 'fc-cache', '--system-only', '--force'], {
          onLine,
          env: { HOME: '/root' },
          ...(signal && { signal }),
        });
        if (r.code !== 0) throw this.buildError(r, `fc-cache (${step.kind} layer)`);
      }
      if (!hadPolicy) await rm(policy, { force: true });
      await this.removeGlobs(merged, builder.cleanupGlobs);
      const now = await builder.listPackages(this.exec, merged);
      const parentPkgs = await this.packagesOfStack(below);
      return packagesAdded(parentPkgs, now);
    } finally {
      for (const m of mounted.reverse()) await unmountIfMounted(this.exec, m);
      // SECURITY: the work dir belongs to this build only and nothing is mounted in it any more
      // (checked by removeTmp for the build dir as a whole).
      await rm(ovlWork, { recursive: true, force: true });
      await rmEmptyDir(merged);
    }
  }

  /** Every package installed in a stack of layers, the highest layer's version winning. */
  private async packagesOfStack(layers: readonly LayerInfo[]): Promise<LayerPackage[]> {
    const m = new Map<string, string>();
    for (const l of layers) for (const p of l.manifest.packages) m.set(p.name, p.version);
    return [...m].map(([name, version]) => ({ name, version }));
  }

  /** Deletes the build-time caches (apt lists, .debs) from the merged view. */
  private async removeGlobs(root: string, globs: readonly string[]): Promise<void> {
    for (const g of globs) {
      const slash = g.lastIndexOf('/');
      const dir = join(root, g.slice(0, slash));
      const pattern = new RegExp(
        '^' +
          g
            .slice(slash + 1)
            .replace(/[.+^${}()|[\]\\]/g, '\\$&')
            .replace(/\*/g, '.*') +
          '$',
      );
      const names = await readdir(dir).catch(() => [] as string[]);
      for (const n of names)
        if (pattern.test(n)) await rm(join(dir, n), { recursive: true, force: true });
    }
  }

  /** Maps a failed builder run to a coded error with a hint. */
  private buildError(r: ExecResult, what: string): Error {
    const text = `${r.stdout}\n${r.stderr}`;
    const tail = text
      .split('\n')
      .filter((l) => /^(E:|W:|Err:)|error|failed/i.test(l))
      .slice(-6)
      .join('\n')
      .slice(-2000);
    if (/No space left on device/.test(text)) {
      return ImageErrors.create('no_space', `${what} ran out of disk space.`, {
        hint: `Free space on the file system of the cache (${this.cacheDir}) or prune it: virtos image prune.`,
      });
    }
    if (
      /Temporary failure resolving|Could not resolve|Failed to fetch|Unable to connect|Connection timed out|Network is unreachable/.test(
        text,
      )
    ) {
      return ImageErrors.create(
        'mirror_unreachable',
        `${what} could not reach the package mirror: ${tail || 'download failed'}`,
        {
          hint: 'Check the network and DNS of this host; only the distro mirrors the catalog names are used.',
        },
      );
    }
    if (r.code === 127) {
      return ImageErrors.create('tool_missing', `${what}: command not found.`, {
        hint: 'Install the missing tool (scripts/setup.sh installs the Debian tools).',
      });
    }
    if (/Unable to locate package|has no installation candidate/.test(text)) {
      return ImageErrors.create('build_failed', `${what}: a package does not exist: ${tail}`, {
        hint: 'Check the package names for this distro release (apt-cache search NAME).',
      });
    }
    return ImageErrors.create(
      'build_failed',
      `${what} failed (exit ${r.code}): ${tail || 'no error output'}`,
      {
        hint: 'Run again with a logger at debug level to see the full output.',
      },
    );
  }

  /** Removes a build directory after making sure nothing is mounted below it. */
  private async removeTmp(dir: string): Promise<void> {
    const abs = resolve(dir);
    if (!abs.startsWith(this.tmpDir + '/'))
      throw CoreErrors.create('internal', `Refusing to remove ${abs}.`);
    for (const m of mountsUnder(await readMounts(), abs)) await unmountIfMounted(this.exec, m);
    const left = mountsUnder(await readMounts(), abs);
    if (left.length > 0) {
      throw ImageErrors.create(
        'mount_failed',
        `Cannot remove ${abs}: still mounted: ${left.join(', ')}.`,
        { subject: abs },
      );
    }
    // SECURITY: recursive removal only inside <cache>/tmp (checked above) and only once no mount
    // remains below the directory, so it can never delete through into a host directory or a layer.
    await rm(abs, { recursive: true, force: true });
  }

  /** Removes leftovers of builds whose process is gone (crashed or killed). */
  private async sweepTmp(): Promise<void> {
    const names = await readdir(this.tmpDir).catch(() => [] as string[]);
    for (const n of names) {
      const pid = Number(/^[0-9a-f]{64}\.(\d+)\./.exec(n)?.[1] ?? NaN);
      if (Number.isFinite(pid) && pid !== process.pid && isAlive(pid)) continue;
      if (ownWork.has(n)) continue;
      this.log.info('removing leftover build dir', { dir: n });
      await this.removeTmp(join(this.tmpDir, n)).catch((e: unknown) =>
        this.log.warn('leftover not removed', { dir: n, error: String(e) }),
      );
    }
  }

  async get(id: string): Promise<LayerInfo | undefined> {
    let full = id;
    if (!ID_RE.test(id)) {
      if (!/^[0-9a-f]{4,63}$/.test(id)) return undefined;
      const matches = (await this.ids()).filter((x) => x.startsWith(id));
      if (matches.length !== 1) return undefined;
      full = matches[0] ?? id;
    }
    const dir = join(this.layersDir, full);
    let text: string;
    try {
      text = await readFile(join(dir, 'manifest.json'), 'utf8');
    } catch {
      return undefined;
    }
    const parsed = parseManifest(text);
    if (!parsed.ok || parsed.value.id !== full) {
      this.log.warn('ignoring a layer with a bad manifest', {
        id: full,
        error: parsed.ok ? 'id mismatch' : parsed.error,
      });
      return undefined;
    }
    return { id: full, path: join(dir, 'tree'), manifest: parsed.value };
  }

  private async ids(): Promise<string[]> {
    const names = await readdir(this.layersDir).catch(() => [] as string[]);
    return names.filter((n) => ID_RE.test(n));
  }

  async list(): Promise<LayerManifest[]> {
    const out: LayerManifest[] = [];
    for (const id of await this.ids()) {
      const info = await this.get(id);
      if (info) out.push(info.manifest);
    }
    return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  }

  async prune(opts: PruneOptions = {}): Promise<string[]> {
    const all = await this.list();
    const byId = new Map(all.map((m) => [m.id, m]));
    const keep = new Set<string>();
    for (const k of opts.keep ?? []) {
      const full = (await this.get(k))?.id;
      for (
        let cur = full ? byId.get(full) : undefined;
        cur;
        cur = cur.parent ? byId.get(cur.parent) : undefined
      ) {
        keep.add(cur.id);
      }
    }
    const now = this.clock.now();
    const old = (m: LayerManifest) =>
      opts.olderThanMs === undefined || now - Date.parse(m.createdAt) > opts.olderThanMs;
    const removed = new Set<string>();
    // Remove from the top down: a layer goes only when no remaining layer sits on it.
    for (let changed = true; changed;) {
      changed = false;
      for (const m of all) {
        if (removed.has(m.id) || keep.has(m.id) || !old(m)) continue;
        const hasChild = all.some((c) => c.parent === m.id && !removed.has(c.id));
        if (hasChild) continue;
        if (opts.keep === undefined && opts.olderThanMs === undefined) continue;
        removed.add(m.id);
        changed = true;
      }
    }
    if (!opts.dryRun) {
      for (const id of removed) await this.removeLayer(id);
    }
    return [...removed];
  }

  private async removeLayer(id: string): Promise<void> {
    if (!ID_RE.test(id)) throw CoreErrors.create('internal', `Bad layer id ${id}.`);
    const dir = join(this.layersDir, id);
    const mounts = await readMounts();
    const inUse = mounts.some(
      (m) => m.superOptions.includes(join(dir, 'tree')) || mountsUnder([m], dir).length > 0,
    );
    if (inUse) {
      throw ImageErrors.create('mount_failed', `Layer ${shortId(id)} is in use by a mount.`, {
        subject: id,
        hint: 'Stop the environments using it (and dispose the warm pool) before pruning.',
      });
    }
    // Move out of layers/ first (atomic: the layer stops existing at once), then delete.
    await mkdir(this.tmpDir, { recursive: true });
    const doomed = join(
      this.tmpDir,
      `${id}.${process.pid}.prune-${randomBytes(4).toString('hex')}`,
    );
    await rename(dir, doomed);
    await this.removeTmp(doomed);
  }

  async verify(id?: string): Promise<VerifyResult[]> {
    const targets: LayerInfo[] = [];
    if (id !== undefined) {
      const info = await this.get(id);
      if (!info) {
        throw ImageErrors.create('not_found', `No layer ${id} in ${this.cacheDir}.`, {
          subject: id,
          hint: 'List layers with: virtos image ls',
        });
      }
      targets.push(info);
    } else {
      for (const x of await this.ids()) {
        const info = await this.get(x);
        if (info) targets.push(info);
      }
    }
    const out: VerifyResult[] = [];
    for (const t of targets) {
      const t0 = this.clock.monotonic();
      const stats = await hashTree(t.path);
      out.push({
        id: t.id,
        ok: stats.treeHash === t.manifest.treeHash,
        expected: t.manifest.treeHash,
        actual: stats.treeHash,
        ms: Math.round(this.clock.monotonic() - t0),
      });
    }
    return out;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

async function exists(p: string): Promise<boolean> {
  try {
    await access(p);
    return true;
  } catch {
    return false;
  }
}

async function rmEmptyDir(p: string): Promise<void> {
  await rmdir(p).catch(() => undefined);
}
