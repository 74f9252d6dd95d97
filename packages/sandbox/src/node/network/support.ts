/**
 * What this host offers the network modes, for `virtos doctor`: the tools, privileges and address
 * ranges they need. Read-only: runs version commands and `ip route`, changes nothing.
 */
import { PEER_RANGE, UPLINK_RANGE, findRouteConflict, type HostRoute } from './addresses.js';
import { execRunner, type CommandRunner } from './exec.js';

/** One line of the report. */
export interface NetworkSupportCheck {
  /** `iproute2`, `nftables`, `root`, `address-plan`, `tor`. */
  readonly name: string;
  readonly ok: boolean;
  /** Version or what was found. */
  readonly detail: string;
  /** What to do when not ok. */
  readonly hint?: string;
}

async function firstLine(run: CommandRunner, file: string, args: string[]): Promise<string> {
  const { stdout, stderr } = await run(file, args, { timeoutMs: 5000 });
  return (stdout || stderr).trim().split('\n')[0] ?? '';
}

/**
 * Checks the host. `tor` is informational: a Tor client that is installed may still be unable to
 * reach the Tor network (as on our build machines).
 */
export async function checkNetworkSupport(
  opts: { runner?: CommandRunner; isRoot?: boolean } = {},
): Promise<NetworkSupportCheck[]> {
  const run = opts.runner ?? execRunner;
  const out: NetworkSupportCheck[] = [];
  const tool = async (name: string, file: string, args: string[], hint: string) => {
    try {
      out.push({ name, ok: true, detail: await firstLine(run, file, args) });
    } catch (e) {
      out.push({ name, ok: false, detail: e instanceof Error ? e.message : String(e), hint });
    }
  };
  await tool('iproute2', 'ip', ['-V'], 'Install iproute2 (Debian: apt-get install iproute2).');
  await tool(
    'nftables',
    'nft',
    ['--version'],
    'Install nftables (Debian: apt-get install nftables).',
  );
  const isRoot = opts.isRoot ?? process.getuid?.() === 0;
  out.push({
    name: 'root',
    ok: isRoot,
    detail: isRoot ? 'running as root' : 'not root',
    ...(!isRoot && {
      hint: 'Network namespaces and nftables need root (CAP_NET_ADMIN and CAP_SYS_ADMIN).',
    }),
  });
  try {
    const { stdout } = await run('ip', ['-j', '-4', 'route', 'show', 'table', 'all']);
    const routes = (JSON.parse(stdout || '[]') as HostRoute[]).filter(
      (r) => typeof r.dst === 'string',
    );
    const conflicts = [UPLINK_RANGE, PEER_RANGE]
      .map((range) => [range, findRouteConflict(routes, range)] as const)
      .filter(([, c]) => c !== undefined);
    out.push({
      name: 'address-plan',
      ok: conflicts.length === 0,
      detail: conflicts.length
        ? conflicts.map(([r, c]) => `${r.base}/${r.prefix} overlaps ${c?.dst}`).join('; ')
        : `${UPLINK_RANGE.base}/${UPLINK_RANGE.prefix} and ${PEER_RANGE.base}/${PEER_RANGE.prefix} are free`,
      ...(conflicts.length && { hint: 'Renumber the conflicting network (docs/network.md).' }),
    });
  } catch (e) {
    out.push({
      name: 'address-plan',
      ok: false,
      detail: e instanceof Error ? e.message : String(e),
    });
  }
  await tool(
    'tor',
    'tor',
    ['--version'],
    'Install tor for the tor network mode (apt-get install tor).',
  );
  return out;
}
