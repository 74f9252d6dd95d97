/**
 * Builds the built-in modules into installable packages: each `<module>/src/main.ts` is bundled
 * (esbuild, one IIFE with module-sdk inside) and written with its manifest and style sheet to
 * `dist/<id>.module.json`, which the daemon's module catalog reads. Run: npm run build:modules.
 */
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

/** The packages/modules directory. */
export const MODULES_ROOT = fileURLToPath(new URL('..', import.meta.url));
/** The stylesheet of built-in modules that bring none of their own. */
const BASE_STYLE = join(MODULES_ROOT, 'shared', 'base.css');

/** Bundles one module entry into a single script (no imports left, no eval). */
export async function bundleScript(entry: string): Promise<string> {
  const r = await build({
    entryPoints: [entry],
    bundle: true,
    format: 'iife',
    target: 'es2022',
    minify: true,
    write: false,
    legalComments: 'none',
    logLevel: 'silent',
  });
  const out = r.outputFiles[0];
  if (!out) throw new Error(`esbuild produced nothing for ${entry}`);
  return out.text;
}

/** Builds every module that has a manifest; returns the ids and bundle sizes in bytes. */
export async function buildModules(
  outDir = join(MODULES_ROOT, 'dist'),
): Promise<{ id: string; bytes: number }[]> {
  await mkdir(outDir, { recursive: true });
  const built: { id: string; bytes: number }[] = [];
  for (const name of (await readdir(MODULES_ROOT)).sort()) {
    const dir = join(MODULES_ROOT, name);
    if (!existsSync(join(dir, 'manifest.json'))) continue;
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as {
      id: string;
    };
    const script = await bundleScript(join(dir, 'src', 'main.ts'));
    // A module's own stylesheet, else the shared one the built-in modules look alike with (plus
    // the module's additions in `extra.css`, when it has some).
    const own = join(dir, 'src', 'style.css');
    const extra = join(dir, 'src', 'extra.css');
    const style = existsSync(own)
      ? await readFile(own, 'utf8')
      : (await readFile(BASE_STYLE, 'utf8')) +
        (existsSync(extra) ? `\n${await readFile(extra, 'utf8')}` : '');
    const pkg = JSON.stringify({ manifest, script, style });
    await writeFile(join(outDir, `${manifest.id}.module.json`), pkg);
    built.push({ id: manifest.id, bytes: Buffer.byteLength(script) });
  }
  return built;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  for (const b of await buildModules()) console.log(`${b.id}: ${(b.bytes / 1024).toFixed(1)} KiB`);
}
