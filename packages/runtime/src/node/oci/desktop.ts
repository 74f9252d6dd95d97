/**
 * The desktop inside an OCI sandbox: the init script that starts Xvnc on a Unix socket in /run/vnc,
 * waits (without sleeping for a fixed time) until the X server is ready, starts openbox, waits until
 * the window manager announces itself (_NET_SUPPORTING_WM_CHECK on the root window), writes a marker
 * the driver watches, then starts the apps.
 */
import type { AppLaunch } from '../../common/driver.js';

/** Screen size of new desktops, pixels. */
export const DESKTOP_GEOMETRY = { width: 1280, height: 800 } as const;
/** The socket file name inside the VNC directory. */
export const VNC_SOCKET_NAME = 'vnc.sock';
/** Written by the init script once the window manager is ready. */
export const WM_READY_NAME = 'wm-ready';
/** The Firefox profile directory (Firefox needs an existing profile dir under our seccomp). */
export const FIREFOX_PROFILE = '/home/user/.mozilla/virtos';

/** Quotes one word for POSIX sh. */
export function shQuote(word: string): string {
  return `'${word.replace(/'/g, `'\\''`)}'`;
}

/** How to launch a catalog app on a desktop. Unknown ids run as a command of the same name. */
export function appLaunchFor(appId: string): AppLaunch {
  switch (appId) {
    case 'firefox':
    case 'firefox-esr':
      return {
        // Firefox's own content sandbox needs unshare, which our seccomp profile denies; the
        // environment's sandbox replaces it (see docs/sandbox.md).
        args: ['firefox-esr', '--no-remote', '--profile', FIREFOX_PROFILE, 'about:blank'],
        env: { MOZ_DISABLE_CONTENT_SANDBOX: '1' },
      };
    default:
      return { args: [appId] };
  }
}

/**
 * Graphical apps of the catalog and how to start them on a desktop. Apps not listed here are
 * command-line tools (git, python3, ...): they are installed but not launched; the user runs them
 * in the xterm every desktop gets.
 */
export const DESKTOP_APP_COMMANDS: Readonly<Record<string, AppLaunch>> = {
  firefox: appLaunchFor('firefox'),
  'firefox-esr': appLaunchFor('firefox-esr'),
  chromium: {
    // Chromium's own sandbox needs user namespaces, which the seccomp profile denies.
    args: ['chromium', '--no-sandbox', '--no-first-run', '--disable-gpu', 'about:blank'],
  },
  libreoffice: { args: ['libreoffice', '--nologo', '--norestore'] },
  gimp: { args: ['gimp', '--no-splash'] },
  inkscape: { args: ['inkscape'] },
  thunderbird: { args: ['thunderbird'] },
  vlc: { args: ['vlc'] },
  gedit: { args: ['gedit'] },
  mousepad: { args: ['mousepad'] },
  xterm: { args: ['xterm'] },
};

/** What a desktop starts once its window manager is ready: an xterm, then each graphical app. */
export function desktopAppsFor(spec: {
  readonly apps: readonly { readonly id: string }[];
}): AppLaunch[] {
  const out: AppLaunch[] = [{ args: ['xterm'] }];
  for (const app of spec.apps) {
    const launch = DESKTOP_APP_COMMANDS[app.id];
    if (launch && app.id !== 'xterm') out.push(launch);
  }
  return out;
}

/** The shell script run as the desktop's first process (as the unprivileged user). */
export function desktopInitScript(apps: readonly AppLaunch[]): string {
  const { width, height } = DESKTOP_GEOMETRY;
  const launches = apps.map((a) => {
    const env = Object.entries(a.env ?? {})
      .map(([k, v]) => `${k}=${shQuote(v)} `)
      .join('');
    return `${env}${a.args.map(shQuote).join(' ')} >/dev/null 2>&1 &`;
  });
  return [
    'set -u',
    'cd "$HOME"',
    `mkdir -p ${shQuote(FIREFOX_PROFILE)}`,
    'mkfifo /tmp/.virtos-xready',
    // SECURITY: no TCP listener at all; the RFB socket is 0600 and owned by the sandbox user, the
    // daemon reaches it as root through the bind-mounted directory.
    `Xvnc :1 -geometry ${width}x${height} -depth 24 -SecurityTypes None -rfbunixpath /run/vnc/${VNC_SOCKET_NAME} -rfbunixmode 0600 -rfbport -1 -nolisten tcp -extension GLX -displayfd 3 3>/tmp/.virtos-xready >/tmp/.xvnc.log 2>&1 &`,
    // -extension GLX: GLX makes Xvnc dlopen Mesa's swrast driver and LLVM (~35 ms of a ~70 ms
    // start here); nothing on these desktops needs it (Firefox and Chromium render in software
    // without it). -displayfd: the X server writes its display number once it accepts clients.
    'read _display </tmp/.virtos-xready || exit 70',
    'openbox >/tmp/.openbox.log 2>&1 &',
    "until xprop -root _NET_SUPPORTING_WM_CHECK 2>/dev/null | grep -q 'window id'; do sleep 0.01; done",
    `: >/run/vnc/${WM_READY_NAME}`,
    ...launches,
    'wait',
  ].join('\n');
}
