/**
 * Checks of a valid spec against the catalog and the host's availability: the schema says a spec is
 * well-formed, this says whether it can be provided as written.
 */
import type { CatalogIndex, DistroAvailability } from './catalog/catalog.js';
import { catalogAvailability } from './catalog/catalog.js';
import { finding, type Finding } from './findings.js';
import type { EnvironmentSpec, RuntimeClass } from './schema.js';

const RUNTIME_STRENGTH: Record<RuntimeClass, number> = { container: 0, microvm: 1, vm: 2 };

/** Returns findings about `spec`: unknown apps, unpackaged apps, unavailable distros and so on. */
export function checkSpec(
  spec: EnvironmentSpec,
  index: CatalogIndex,
  availability: DistroAvailability = catalogAvailability(index),
): Finding[] {
  const out: Finding[] = [];
  const distro = index.distro(spec.base.distro);
  if (!index.release(spec.base.distro, spec.base.release)) {
    out.push(
      finding(
        'unsupported',
        'base.release',
        `${distro.name} has no release '${spec.base.release}'.`,
        {
          code: 'release.unknown',
          options: distro.releases.map((r) => ({ value: r.id, label: `${distro.name} ${r.id}` })),
        },
      ),
    );
  }
  const avail = availability(spec.base.distro);
  if (!avail.available) {
    out.push(
      finding(
        'unavailable',
        'base.distro',
        `${distro.name} cannot be built here: ${avail.reason}.`,
        {
          code: 'distro.unavailable',
        },
      ),
    );
  }
  for (const app of spec.apps) {
    const entry = index.app(app.id);
    if (!entry) {
      out.push(
        finding('unsupported', 'apps', `'${app.id}' is not an application of the catalog.`, {
          code: 'app.unknown',
        }),
      );
      continue;
    }
    if (!entry.packages[spec.base.distro]) {
      out.push(
        finding('unsupported', 'apps', `${entry.name} is not packaged for ${distro.name}.`, {
          code: 'app.not_packaged',
        }),
      );
    }
    if (entry.interface === 'gui' && spec.display !== 'desktop') {
      out.push(
        finding(
          'conflict',
          'display',
          `${entry.name} needs a desktop, but display is '${spec.display}'.`,
          {
            code: 'app.needs_display',
            options: [{ value: 'desktop', label: 'Use a desktop' }],
          },
        ),
      );
    }
    if (entry.minRuntime && RUNTIME_STRENGTH[spec.runtime] < RUNTIME_STRENGTH[entry.minRuntime]) {
      out.push(
        finding(
          'conflict',
          'runtime',
          `${entry.name} needs the '${entry.minRuntime}' runtime class; the spec asks for '${spec.runtime}'.`,
          { code: 'app.needs_runtime' },
        ),
      );
    }
    if (entry.network === 'required' && spec.network.mode === 'none') {
      out.push(
        finding(
          'assumption',
          'network.mode',
          `${entry.name} usually needs the network, which is off.`,
          {
            code: 'app.offline',
          },
        ),
      );
    }
    if (entry.needsGpu && spec.resources.gpus === 0) {
      out.push(
        finding(
          'assumption',
          'resources.gpus',
          `${entry.name} works best with a GPU; none is asked for.`,
          {
            code: 'app.no_gpu',
          },
        ),
      );
    }
  }
  return out;
}
