/**
 * Writes dist/canary-manifest.json after `vite build`: the SHA-256 of every file of the shell
 * bundle and of the daemon's code (the server package and the workspace packages it depends on,
 * without tests). The daemon checks both against it at start and periodically (server canary.ts).
 * Prints the manifest's own digest: compare it with the one the Security Center shows.
 */
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const dist = fileURLToPath(new URL('../dist/', import.meta.url));
const MANIFEST = 'canary-manifest.json';

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function walk(dir: string, keep: (rel: string) => boolean, base = dir): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...walk(p, keep, base));
    else if (e.isFile()) {
      const rel = relative(base, p).split(sep).join('/');
      if (keep(rel)) out.push(rel);
    }
  }
  return out.sort();
}

/** The server and every @virtos package it depends on, transitively. */
function daemonPackages(): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name)) return;
    seen.add(name);
    const pkg = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8')) as {
      dependencies?: Record<string, string>;
    };
    for (const d of Object.keys(pkg.dependencies ?? {})) {
      if (d.startsWith('@virtos/')) visit(d.slice('@virtos/'.length));
    }
  };
  visit('server');
  return [...seen].sort();
}

const shell: Record<string, string> = {};
for (const f of walk(dist, (r) => r !== MANIFEST)) shell[f] = sha256(readFileSync(join(dist, f)));

const daemon: Record<string, string> = {};
const isCode = (r: string) =>
  /\.(ts|js|mjs|json)$/.test(r) && !/\.test\.ts$/.test(r) && !r.includes('/.scratch/');
for (const name of daemonPackages()) {
  const src = join(root, 'packages', name, 'src');
  for (const f of walk(src, isCode)) {
    const rel = relative(root, join(src, f)).split(sep).join('/');
    daemon[rel] = sha256(readFileSync(join(src, f)));
  }
}

const body = JSON.stringify(
  { version: 1, createdAt: new Date().toISOString(), shell, daemon },
  null,
  1,
);
writeFileSync(join(dist, MANIFEST), body);
console.log(
  `canary manifest: ${Object.keys(shell).length} shell files, ${Object.keys(daemon).length} daemon files, sha256 ${sha256(Buffer.from(body))}`,
);
