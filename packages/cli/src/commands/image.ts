/**
 * `virtos image ls|build|prune|verify`: manage the local cache of image layers. These run embedded
 * (no daemon needed): they open the cache directory directly.
 */
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { CoreErrors } from '@virtos/core';
import {
  createImageStore,
  imageRequestFromSpec,
  shortId,
  type BuildProgress,
  type ImageRequest,
  type ImageStore,
  type LayerManifest,
} from '@virtos/images';
import { DISPLAYS, DISTROS, parseSpecJson, type Display, type Distro } from '@virtos/spec';
import { EXIT, printJson, reportError, type CliContext } from '../io.js';
import { CliErrors, readInput } from './input.js';

interface CommonOptions {
  json?: boolean;
  cache?: string;
}

interface BuildOptions extends CommonOptions {
  distro?: string;
  release?: string;
  display?: string;
  packages?: string;
}

interface PruneCliOptions extends CommonOptions {
  keep?: string[];
  olderThan?: string;
  dryRun?: boolean;
}

/** The cache directory: `--cache`, else `$VIRTOS_HOME/images`, else `~/.virtos/images`. */
export function imageCacheDir(ctx: CliContext, flag: string | undefined): string {
  if (flag !== undefined) return resolve(ctx.cwd, flag);
  const home = ctx.env.VIRTOS_HOME ?? join(ctx.env.HOME ?? homedir(), '.virtos');
  return join(resolve(ctx.cwd, home), 'images');
}

/** Bytes as a short human size (binary units). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

/** Milliseconds as a short age: `45s`, `12m`, `3h`, `5d`. */
export function formatAge(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.round(s / 60)}m`;
  if (s < 86400) return `${Math.round(s / 3600)}h`;
  return `${Math.round(s / 86400)}d`;
}

/** Parses `30m`, `12h`, `7d` or a bare number of days into milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)([smhd]?)$/.exec(text.trim());
  if (!m) {
    throw CliErrors.create('usage', `'${text}' is not a duration.`, {
      hint: 'Use a number with s, m, h or d, e.g. 7d or 12h.',
    });
  }
  const unit = { s: 1e3, m: 6e4, h: 36e5, d: 864e5, '': 864e5 }[m[2] as 's' | 'm' | 'h' | 'd' | ''];
  return Number(m[1]) * unit;
}

function openStore(ctx: CliContext, opts: CommonOptions): ImageStore {
  return createImageStore({ cacheDir: imageCacheDir(ctx, opts.cache) });
}

/** The request of `image build`: from a spec file, or from flags (defaults: debian bookworm none). */
async function requestFrom(
  ctx: CliContext,
  file: string | undefined,
  o: BuildOptions,
): Promise<ImageRequest> {
  if (file !== undefined) {
    if (o.distro || o.release || o.display || o.packages) {
      throw CliErrors.create(
        'usage',
        'Give either a spec file or --distro/--release/--display/--packages.',
        {
          hint: 'virtos image build spec.json, or virtos image build --display desktop --packages firefox-esr',
        },
      );
    }
    const parsed = parseSpecJson(await readInput(ctx, file));
    if (!parsed.ok) throw parsed.error;
    return imageRequestFromSpec(parsed.value);
  }
  const distro = (o.distro ?? 'debian') as Distro;
  if (!DISTROS.includes(distro)) {
    throw CliErrors.create('usage', `Unknown distro '${o.distro}'.`, {
      hint: `One of: ${DISTROS.join(', ')}.`,
    });
  }
  const display = (o.display ?? 'none') as Display;
  if (!DISPLAYS.includes(display)) {
    throw CliErrors.create('usage', `Unknown display '${o.display}'.`, {
      hint: `One of: ${DISPLAYS.join(', ')}.`,
    });
  }
  const packages = (o.packages ?? '').split(/[\s,]+/).filter((p) => p !== '');
  return { distro, release: o.release ?? 'bookworm', display, packages };
}

function progressLine(p: BuildProgress): string {
  const secs = (p.elapsedMs / 1000).toFixed(1).padStart(5);
  const pk = p.packagesTotal ? ` ${p.packagesDone ?? 0}/${p.packagesTotal} pkgs` : '';
  const by = p.bytes ? ` ${formatBytes(p.bytes)}` : '';
  return `  [${shortId(p.layer)}] ${secs}s ${p.phase.padEnd(9)}${pk}${by}${p.message ? `  ${p.message}` : ''}\n`;
}

function layerRow(m: LayerManifest, now: number): string {
  return [
    shortId(m.id),
    m.kind.padEnd(7),
    `${m.distro}/${m.release}`.padEnd(16),
    formatBytes(m.sizeBytes).padStart(9),
    String(m.packages.length).padStart(5),
    formatAge(now - Date.parse(m.createdAt)).padStart(5),
    m.parent ? shortId(m.parent) : '-',
  ].join('  ');
}

/** Registers `image ls|build|prune|verify`. */
export function registerImageCommands(program: Command, ctx: CliContext): void {
  const image = program
    .command('image')
    .description('Manage the local cache of image layers (base, desktop and apps layers).')
    .addHelpText(
      'after',
      `
The cache is $VIRTOS_HOME/images (default ~/.virtos/images); --cache DIR overrides it.
Building needs root (mmdebstrap, overlay mounts, chroot). See docs/images.md.`,
    );

  image
    .command('ls')
    .description('List the layers in the cache with sizes and ages.')
    .option('--cache <dir>', 'cache directory')
    .option('--json', 'print { ok, cacheDir, layers } on stdout')
    .action(async (opts: CommonOptions) => {
      const json = opts.json === true;
      try {
        const store = openStore(ctx, opts);
        const layers = await store.list();
        if (json) {
          printJson(ctx, { ok: true, cacheDir: store.cacheDir, layers });
        } else if (layers.length === 0) {
          ctx.out(`No layers in ${store.cacheDir}.\n`);
        } else {
          const now = Date.now();
          ctx.out('ID            KIND     DISTRO               SIZE  PKGS    AGE  PARENT\n');
          for (const m of layers) ctx.out(layerRow(m, now) + '\n');
          const total = layers.reduce((s, m) => s + m.sizeBytes, 0);
          ctx.out(`${layers.length} layers, ${formatBytes(total)} in ${store.cacheDir}\n`);
        }
        ctx.exitCode = EXIT.ok;
      } catch (e) {
        reportError(ctx, e, json);
      }
    });

  image
    .command('build')
    .description('Build (or reuse) the layers of a spec file, or of the flags given.')
    .argument('[spec]', 'an environment spec file (JSON), or - for standard input')
    .option('--distro <distro>', `distro (${DISTROS.join(', ')}); default debian`)
    .option('--release <release>', 'release id, e.g. bookworm; default bookworm')
    .option(
      '--display <display>',
      `${DISPLAYS.join(', ')}; desktop adds the desktop layer; default none`,
    )
    .option('--packages <list>', 'comma-separated distro packages for the apps layer')
    .option('--cache <dir>', 'cache directory')
    .option('--json', 'print exactly one JSON object { ok, key, layers, outcomes } on stdout')
    .addHelpText(
      'after',
      `
Exit codes: 0 ok; 4 unreadable or invalid input; 5 builder or mirror unavailable, or no space;
6 not root; 130 cancelled (Ctrl-C); 1 build failed.

Examples:
  virtos image build --display desktop
  virtos image build --packages firefox-esr,gimp --json
  virtos image build spec.json`,
    )
    .action(async (file: string | undefined, opts: BuildOptions) => {
      const json = opts.json === true;
      const ac = new AbortController();
      const onSigint = () => ac.abort();
      process.once('SIGINT', onSigint);
      try {
        const req = await requestFrom(ctx, file, opts);
        const store = openStore(ctx, opts);
        if (!json) {
          const what = [req.display === 'desktop' ? 'desktop' : '', req.packages.join(' ')]
            .filter(Boolean)
            .join(' + ');
          ctx.err(
            `Building ${req.distro} ${req.release}${what ? ` with ${what}` : ''} in ${store.cacheDir}\n`,
          );
        }
        let lastPhase = '';
        let lastLayer = '';
        let lastAt = 0;
        const img = await store.ensure(req, {
          signal: ac.signal,
          onProgress: (p) => {
            if (json) return;
            // One line per phase change, else at most one every 2 s: readable in logs and CI.
            if (p.layer === lastLayer && p.phase === lastPhase && p.elapsedMs - lastAt < 2000)
              return;
            lastLayer = p.layer;
            lastPhase = p.phase;
            lastAt = p.elapsedMs;
            ctx.err(progressLine(p));
          },
        });
        if (json) {
          printJson(ctx, {
            ok: true,
            key: img.key,
            layers: img.layers.map((l) => ({
              id: l.id,
              path: l.path,
              kind: l.manifest.kind,
              sizeBytes: l.manifest.sizeBytes,
            })),
            outcomes: img.outcomes,
          });
        } else {
          for (const o of img.outcomes) {
            ctx.out(
              `${o.kind.padEnd(7)} ${shortId(o.id)}  ${o.built ? `built in ${(o.buildMs / 1000).toFixed(1)} s` : 'cached'}\n`,
            );
          }
          ctx.out(`image ${img.key}\n`);
        }
        ctx.exitCode = EXIT.ok;
      } catch (e) {
        reportError(
          ctx,
          ac.signal.aborted ? CoreErrors.create('cancelled', 'The build was cancelled.') : e,
          json,
        );
      } finally {
        process.removeListener('SIGINT', onSigint);
      }
    });

  image
    .command('prune')
    .description('Remove layers not used by the kept images, or older than a given age.')
    .option('--keep <key...>', 'image keys or layer ids to keep (with every layer below them)')
    .option('--older-than <age>', 'remove only layers older than this (30m, 12h, 7d)')
    .option('--dry-run', 'show what would be removed')
    .option('--cache <dir>', 'cache directory')
    .option('--json', 'print { ok, removed, dryRun } on stdout')
    .action(async (opts: PruneCliOptions) => {
      const json = opts.json === true;
      try {
        if (opts.keep === undefined && opts.olderThan === undefined) {
          throw CliErrors.create('usage', 'Say what to prune.', {
            hint: 'Use --keep KEY... (remove everything else) and/or --older-than 7d.',
          });
        }
        const store = openStore(ctx, opts);
        const removed = await store.prune({
          ...(opts.keep !== undefined && { keep: opts.keep }),
          ...(opts.olderThan !== undefined && { olderThanMs: parseDuration(opts.olderThan) }),
          dryRun: opts.dryRun === true,
        });
        if (json) printJson(ctx, { ok: true, removed, dryRun: opts.dryRun === true });
        else {
          const verb = opts.dryRun ? 'would remove' : 'removed';
          for (const id of removed) ctx.out(`${verb} ${shortId(id)}\n`);
          ctx.out(`${removed.length} layer(s) ${verb}.\n`);
        }
        ctx.exitCode = EXIT.ok;
      } catch (e) {
        reportError(ctx, e, json);
      }
    });

  image
    .command('verify')
    .description('Recompute the tree hash of one layer (or all) and compare it with its manifest.')
    .argument('[id]', 'layer id or unique prefix; all layers when absent')
    .option('--cache <dir>', 'cache directory')
    .option('--json', 'print { ok, results } on stdout')
    .addHelpText('after', '\nExit codes: 0 all layers intact; 3 a layer changed; 7 no such layer.')
    .action(async (id: string | undefined, opts: CommonOptions) => {
      const json = opts.json === true;
      try {
        const results = await openStore(ctx, opts).verify(id);
        const ok = results.every((r) => r.ok);
        if (json) printJson(ctx, { ok, results });
        else {
          for (const r of results) {
            ctx.out(
              `${shortId(r.id)}  ${r.ok ? 'ok' : `CHANGED (expected ${shortId(r.expected)}, got ${shortId(r.actual)})`}  ${r.ms} ms\n`,
            );
          }
          if (results.length === 0) ctx.out('No layers to verify.\n');
        }
        ctx.exitCode = ok ? EXIT.ok : EXIT.notOk;
      } catch (e) {
        reportError(ctx, e, json);
      }
    });
}
