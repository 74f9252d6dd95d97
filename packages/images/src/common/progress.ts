/**
 * Turns the output of apt-get (also as run by mmdebstrap --verbose) into progress reports: packages
 * configured of the total announced, bytes downloaded, and the current phase.
 */

/** What has been seen so far in a build's output. */
export interface ProgressState {
  phase: string;
  packagesDone: number;
  /** Sum of every "N newly installed" apt announced (mmdebstrap runs apt twice). */
  packagesTotal: number;
  /** Bytes of packages and indexes downloaded ("Get:" lines). */
  bytes: number;
  /** The last meaningful line, for display. */
  message?: string;
}

/** A fresh state. */
export function newProgressState(): ProgressState {
  return { phase: 'start', packagesDone: 0, packagesTotal: 0, bytes: 0 };
}

const UNITS: Record<string, number> = { B: 1, kB: 1e3, KB: 1e3, MB: 1e6, GB: 1e9 };

/** Parses an apt size such as `37.6 kB` or `1,234 B` into bytes; undefined when not a size. */
export function parseAptSize(text: string): number | undefined {
  const m = /^([\d.,]+)\s*(B|kB|KB|MB|GB)$/.exec(text.trim());
  if (!m?.[1] || !m[2]) return undefined;
  const n = Number(m[1].replace(/,/g, ''));
  const unit = UNITS[m[2]];
  return Number.isFinite(n) && unit !== undefined ? Math.round(n * unit) : undefined;
}

/**
 * Feeds one output line into `state`. Returns true when the state changed in a way worth reporting.
 */
export function parseProgressLine(state: ProgressState, rawLine: string): boolean {
  const line = rawLine.trimEnd();
  let m: RegExpExecArray | null;
  if ((m = /^Get:\d+ .*\[([^\]]+)\]$/.exec(line))) {
    const size = parseAptSize(m[1] ?? '');
    if (size !== undefined) state.bytes += size;
    state.phase = 'download';
    return true;
  }
  if ((m = /^\d+ upgraded, (\d+) newly installed/.exec(line))) {
    state.packagesTotal += Number(m[1]);
    state.phase = 'resolve';
    return true;
  }
  if ((m = /^Unpacking (\S+)/.exec(line))) {
    state.phase = 'unpack';
    state.message = `unpacking ${m[1]}`;
    return true;
  }
  if ((m = /^Setting up (\S+)/.exec(line))) {
    state.packagesDone += 1;
    state.phase = 'configure';
    state.message = `setting up ${m[1]}`;
    return true;
  }
  if ((m = /^I: (.+)$/.exec(line))) {
    // mmdebstrap's own steps.
    const what = m[1] ?? '';
    state.message = what;
    if (/downloading/.test(what)) state.phase = 'download';
    else if (/extracting/.test(what)) state.phase = 'unpack';
    else if (/installing/.test(what)) state.phase = 'configure';
    else if (/apt-get update/.test(what)) state.phase = 'update';
    else if (/hook/.test(what)) state.phase = 'hooks';
    return true;
  }
  return false;
}
