/**
 * `virtos doctor`: what this host can run (OCI runtimes and why not, hardware virtualization, cgroup
 * layout, overlayfs, nftables, Tor, WireGuard), and `--cleanup`/`--fix` for leftovers of crashed runs.
 */
import type { Command } from 'commander';
import {
  CRUN_HYBRID_REMEDY,
  applyCrunCgroupRemedy,
  cleanupLeftovers,
  probeHost,
  supervisedEnvironmentIds,
  type HostReport,
  type Leftover,
} from '@virtos/runtime';
import { createNetworkManager } from '@virtos/sandbox';
import { EXIT, printJson, reportError, type CliContext } from '../io.js';

interface DoctorOptions {
  json?: boolean;
  cleanup?: boolean;
  fix?: boolean;
  stateDir?: string;
}

/** Where the network manager keeps its records by default (one place for doctor to look). */
const NETWORK_STATE_DIR = '/run/virtos/network';

const MARK = { ok: 'ok  ', unusable: 'NO  ', absent: '--  ' } as const;

function formatReport(r: HostReport): string {
  const lines = ['OCI runtimes:'];
  for (const p of Object.values(r.runtimes)) {
    const head = `  ${MARK[p.status]}${p.name.padEnd(6)} ${p.version ?? ''}`.trimEnd();
    lines.push(p.smokeMs !== undefined ? `${head} (smoke run ${p.smokeMs} ms)` : head);
    if (p.reason) lines.push(`        why: ${p.reason}`);
    if (p.remedy && p.status !== 'ok') lines.push(`        fix: ${p.remedy}`);
  }
  lines.push(`  container class uses: ${r.preferredRuntime ?? 'nothing (no usable runtime)'}`);
  lines.push('Host:');
  const feat = (name: string, f: { status: keyof typeof MARK; detail: string }): void => {
    lines.push(`  ${MARK[f.status]}${name.padEnd(15)} ${f.detail}`);
  };
  feat('cgroups', r.cgroups);
  feat('virtualization', r.virtualization);
  feat('overlayfs', r.overlayfs);
  feat('nftables', r.nftables);
  feat('tor', r.tor);
  feat('wireguard', r.wireguard);
  return lines.join('\n') + '\n';
}

function formatLeftovers(items: readonly Leftover[], removing: boolean): string {
  if (items.length === 0) return 'No leftovers of crashed runs.\n';
  const lines = [removing ? 'Leftovers removed:' : 'Leftovers found (remove with --cleanup):'];
  for (const l of items) {
    const state =
      l.removed === undefined ? '' : l.removed ? ' removed' : ` NOT removed: ${l.error}`;
    lines.push(`  ${l.kind.padEnd(9)} ${l.name}${state}`);
  }
  return lines.join('\n') + '\n';
}

/** Registers `doctor`. */
export function registerDoctorCommands(program: Command, ctx: CliContext): void {
  program
    .command('doctor')
    .description('Check what this host can run, and clean up leftovers of crashed runs.')
    .option('--json', 'print one JSON object { ok, host, leftovers, fixes }')
    .option('--cleanup', 'remove leftovers (containers, bundles, mounts, cgroups, network state)')
    .option('--fix', 'as --cleanup, and apply host remedies (crun hybrid cgroups), as root')
    .option('--state-dir <dir>', 'the runtime state directory (default /run/virtos/runtime)')
    .addHelpText(
      'after',
      `
Exit codes: 0 a usable runtime exists; 5 no usable OCI runtime; 1 unexpected failure.

Examples:
  virtos doctor
  virtos doctor --json | jq '.host.runtimes.crun'
  sudo virtos doctor --fix`,
    )
    .action(async (opts: DoctorOptions) => {
      const json = opts.json === true;
      try {
        const fixes: string[] = [];
        if (opts.fix) {
          const moved = await applyCrunCgroupRemedy();
          if (moved.length)
            fixes.push(
              `mounted cgroup v1 hierarchies for [${moved.join(' ')}] (${CRUN_HYBRID_REMEDY.split(' (')[0]})`,
            );
        }
        const remove = opts.cleanup === true || opts.fix === true;
        const leftovers = await cleanupLeftovers({
          remove,
          ...(opts.stateDir !== undefined && { stateDir: opts.stateDir }),
        });
        let network: string[] = [];
        if (remove) {
          // Environments outlive the daemon: the network of one its runtime still supervises is
          // kept, like its container and root (cleanupLeftovers above).
          network = await createNetworkManager({ stateDir: NETWORK_STATE_DIR })
            .cleanupLeftovers(supervisedEnvironmentIds())
            .catch(() => []);
        }
        const host = await probeHost();
        const ok = host.preferredRuntime !== undefined;
        if (json) {
          printJson(ctx, { ok, host, leftovers, networkLeftoversRemoved: network, fixes });
        } else {
          ctx.out(formatReport(host));
          for (const f of fixes) ctx.out(`Fixed: ${f}\n`);
          ctx.out(formatLeftovers(leftovers, remove));
          if (network.length) ctx.out(`Network leftovers removed: ${network.join(', ')}\n`);
        }
        ctx.exitCode = ok ? EXIT.ok : EXIT.unavailable;
      } catch (e) {
        reportError(ctx, e, json);
      }
    });
}
