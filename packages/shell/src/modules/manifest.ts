/**
 * Module manifests as the shell checks them before it shows an install dialog (the daemon checks
 * again at install). `strict`: an unknown key, say a wish for raw network, is refused.
 */
import { z } from 'zod';
import { CAPABILITIES, type ModuleManifest } from '@virtos/module-sdk';

/** The manifest schema. */
export const ModuleManifestSchema = z
  .object({
    id: z.string().regex(/^[a-z][a-z0-9-]{1,39}$/, 'an id: a-z, 0-9 and -, 2 to 40 characters'),
    name: z.string().trim().min(1).max(60),
    version: z.string().regex(/^\d{1,4}\.\d{1,4}\.\d{1,6}$/, 'a version like 1.2.3'),
    entry: z.string().regex(/^[A-Za-z0-9_.-]{1,64}\.js$/, 'a script file name like main.js'),
    capabilities: z
      .array(z.enum(CAPABILITIES))
      .max(CAPABILITIES.length)
      .refine((a) => new Set(a).size === a.length, 'capabilities must not repeat'),
    description: z.string().max(300).optional(),
  })
  .strict();

/** The outcome of {@link validateManifest}: a value, not an exception. */
export type ManifestResult =
  | { readonly ok: true; readonly manifest: ModuleManifest }
  | { readonly ok: false; readonly problems: readonly string[] };

/** Checks a manifest; the problems say which field and why. */
export function validateManifest(x: unknown): ManifestResult {
  const r = ModuleManifestSchema.safeParse(x);
  if (r.success) {
    const { description, ...rest } = r.data;
    return {
      ok: true,
      manifest: description === undefined ? rest : { ...rest, description },
    };
  }
  return {
    ok: false,
    problems: r.error.issues.map((i) => `${i.path.join('.') || '/'}: ${i.message}`),
  };
}
