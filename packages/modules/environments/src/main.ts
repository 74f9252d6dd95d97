/**
 * Environments: type a request in plain words, review the composed spec and its findings, answer
 * the composer's questions, provision with live progress, then list, open, suspend, resume and
 * terminate. Capability: environments:manage. Progress arrives as events the shell relays (the
 * module itself has no network).
 */
import {
  connect,
  formatTime,
  h,
  render,
  RpcError,
  type ComposeView,
  type EnvironmentEventView,
  type EnvironmentView,
  type FindingView,
  type VirtosModule,
} from '@virtos/module-sdk';

const app = document.getElementById('app') as HTMLElement;
let mod: VirtosModule;

/** What the review pane shows. */
interface Review {
  /** The request as typed. */
  readonly request: string;
  /** The answers given so far, shown under the request. */
  readonly answers: readonly string[];
  readonly result: ComposeView;
}

let review: Review | undefined;
let envs: EnvironmentView[] = [];
/** The environment being provisioned from this window, and its progress lines. */
let provisioning: { id: string; lines: string[]; state: string } | undefined;
let status = '';
let isBusy = false;

const requestBox = h('textarea', {
  id: 'request',
  rows: 3,
  placeholder: 'e.g. a Debian desktop with Firefox that can only reach wikipedia.org',
  'aria-label': 'request',
});
const reviewEl = h('div', { id: 'review' });
const progressEl = h('div', { id: 'progress' });
const listEl = h('div', { id: 'envs' });
const statusEl = h('div', { class: 'status', id: 'status', role: 'status' });

function setStatus(s: string): void {
  status = s;
  statusEl.textContent = status;
}

function errorText(e: unknown): string {
  if (e instanceof RpcError) return `${e.message}${e.hint ? ` ${e.hint}` : ''}`;
  return e instanceof Error ? e.message : String(e);
}

/** Runs an action with the buttons disabled and errors shown in the status line. */
async function busy(label: string, f: () => Promise<void>): Promise<void> {
  if (isBusy) return;
  isBusy = true;
  app.classList.add('busy');
  setStatus(label);
  try {
    await f();
    if (status === label) setStatus('');
  } catch (e) {
    setStatus(`Error: ${errorText(e)}`);
  } finally {
    isBusy = false;
    app.classList.remove('busy');
  }
}

// ---- review --------------------------------------------------------------------------------

function str(x: unknown): string {
  return typeof x === 'string' ? x : x === null || x === undefined ? '' : JSON.stringify(x);
}

function rec(x: unknown): Record<string, unknown> {
  return typeof x === 'object' && x !== null ? (x as Record<string, unknown>) : {};
}

/** The spec as a short table a person can check. */
function specTable(spec: Record<string, unknown>): HTMLElement {
  const base = rec(spec['base']);
  const net = rec(spec['network']);
  const res = rec(spec['resources']);
  const sec = rec(spec['security']);
  const life = rec(spec['lifetime']);
  const apps = Array.isArray(spec['apps']) ? spec['apps'].map((a) => str(rec(a)['id'])) : [];
  const allow = Array.isArray(net['allow']) ? net['allow'].map(str) : [];
  const rows: [string, string][] = [
    ['Name', str(spec['name'])],
    ['System', `${str(base['distro'])} ${str(base['release'])}`],
    ['Runtime', str(spec['runtime'])],
    ['Display', str(spec['display'])],
    ['Apps', apps.length ? apps.join(', ') : 'none'],
    ['Network', `${str(net['mode'])}${allow.length ? `: ${allow.join(', ')}` : ''}`],
    [
      'Resources',
      `${str(res['cpus'])} CPU · ${str(res['memoryMiB'])} MiB memory · ${str(res['diskMiB'])} MiB disk${Number(res['gpus']) > 0 ? ` · ${str(res['gpus'])} GPU` : ''}`,
    ],
    ['Files', str(spec['persistence'])],
    [
      'Isolation',
      `${str(sec['isolation'])} (seccomp ${str(sec['seccompProfile'])}${sec['readOnlyRoot'] === true ? ', read-only root' : ''})`,
    ],
    [
      'Lifetime',
      `${life['ttlMinutes'] ? `ends after ${str(life['ttlMinutes'])} min` : 'no end'}${life['idleSuspendMinutes'] ? `, suspends after ${str(life['idleSuspendMinutes'])} idle min` : ''}`,
    ],
  ];
  return h(
    'table',
    { id: 'spec', class: 'spec' },
    h(
      'tbody',
      {},
      rows.map(([k, v]) =>
        h('tr', { 'data-field': k.toLowerCase() }, h('th', {}, k), h('td', {}, v)),
      ),
    ),
  );
}

/** Recomposes with the answer: an edit of the composed spec, or a new request without one. */
async function answer(text: string): Promise<void> {
  const r = review;
  if (!r || text.trim() === '') return;
  await busy('Composing…', async () => {
    const spec = r.result.spec;
    const result = spec
      ? await mod.environments.compose(text, spec)
      : await mod.environments.compose(text);
    review = { request: r.request, answers: [...r.answers, text], result };
    renderReview();
  });
}

function findingItem(f: FindingView, i: number): HTMLElement {
  const isQuestion = f.kind === 'ambiguity' || (f.blocking && (f.options?.length ?? 0) > 0);
  const free = h('input', {
    type: 'text',
    'aria-label': `answer ${i + 1}`,
    placeholder: 'Your answer',
  });
  return h(
    'li',
    {
      class: `finding ${f.blocking ? 'blocking' : ''}`,
      'data-kind': f.kind,
      'data-field': f.field,
    },
    h('span', { class: `kind ${f.blocking ? 'bad' : ''}` }, f.kind),
    ' ',
    h('span', { class: 'field' }, f.field),
    ': ',
    f.message,
    isQuestion && f.options?.length
      ? h(
          'div',
          { class: 'question row' },
          f.options.map((o) =>
            h('button', { 'data-answer': o.value, onclick: () => void answer(o.label) }, o.label),
          ),
        )
      : null,
    isQuestion && !f.options?.length
      ? h(
          'div',
          { class: 'question row' },
          free,
          h('button', { onclick: () => void answer(free.value) }, 'Answer'),
        )
      : null,
  );
}

function renderReview(): void {
  const r = review;
  if (!r) {
    render(reviewEl);
    return;
  }
  const { result } = r;
  const blocking = result.findings.filter((f) => f.blocking).length;
  render(
    reviewEl,
    h(
      'div',
      { class: 'card' },
      h(
        'div',
        { class: 'row' },
        h('strong', {}, 'Review'),
        h(
          'span',
          { id: 'verdict', class: result.ok ? 'ok' : 'bad' },
          result.ok
            ? 'Ready to provision'
            : `${blocking} question(s) or problem(s) to settle first`,
        ),
      ),
      h('div', { class: 'request' }, `“${r.request}”`),
      r.answers.length ? h('div', { class: 'answers' }, `Answers: ${r.answers.join(' · ')}`) : null,
      result.spec ? specTable(result.spec) : h('p', {}, 'No spec could be composed yet.'),
      result.findings.length
        ? h('ul', { id: 'findings' }, result.findings.map(findingItem))
        : h('p', { id: 'findings' }, 'No findings.'),
      h(
        'div',
        { class: 'row' },
        h(
          'button',
          {
            id: 'provision',
            class: 'primary',
            disabled: !result.ok || !result.spec,
            onclick: () => void provision(),
          },
          'Provision',
        ),
        h(
          'button',
          {
            onclick: () => {
              review = undefined;
              renderReview();
            },
          },
          'Discard',
        ),
      ),
    ),
  );
}

async function compose(): Promise<void> {
  const text = requestBox.value.trim();
  if (!text) {
    setStatus('Type what the environment should be.');
    return;
  }
  await busy('Composing…', async () => {
    review = { request: text, answers: [], result: await mod.environments.compose(text) };
    renderReview();
  });
}

// ---- provisioning and the list -------------------------------------------------------------

function progressLine(e: EnvironmentEventView): string {
  const t = new Date(e.at).toLocaleTimeString();
  return e.type === 'transition' && e.to
    ? `${t} ${e.from ?? ''} → ${e.to}: ${e.message}`
    : `${t} ${e.message}`;
}

function renderProgress(): void {
  const p = provisioning;
  if (!p) {
    render(progressEl);
    return;
  }
  const env = envs.find((e) => e.id === p.id);
  render(
    progressEl,
    h(
      'div',
      { class: 'card', 'data-env': p.id, 'data-state': p.state },
      h(
        'div',
        { class: 'row' },
        h('strong', {}, `Progress of ${env?.name ?? p.id}`),
        h('span', { class: `state state-${p.state}`, id: 'progress-state' }, p.state),
        p.state === 'running' && env?.display
          ? h(
              'button',
              { class: 'primary', 'data-action': 'open', onclick: () => void open(p.id) },
              'Open',
            )
          : null,
      ),
      h(
        'ul',
        { class: 'log' },
        p.lines.map((l) => h('li', {}, l)),
      ),
    ),
  );
}

async function provision(): Promise<void> {
  const spec = review?.result.spec;
  if (!spec) return;
  await busy('Provisioning…', async () => {
    const env = await mod.environments.create({ spec });
    provisioning = { id: env.id, lines: [], state: env.state };
    // The history so far (events may have passed before this window heard of the id).
    for (const e of await mod.environments.events(env.id)) onEvent(e);
    review = undefined;
    requestBox.value = '';
    renderReview();
    await refreshList();
    renderProgress();
  });
}

function onEvent(e: EnvironmentEventView): void {
  const p = provisioning;
  if (p && e.envId === p.id && !p.lines.some((l) => l.startsWith(`#${e.seq} `))) {
    p.lines.push(`#${e.seq} ${progressLine(e)}`);
    if (e.type === 'transition' && e.to) p.state = e.to;
    renderProgress();
  }
  if (e.type === 'transition') scheduleRefresh();
}

let refreshTimer: ReturnType<typeof setTimeout> | undefined;
function scheduleRefresh(): void {
  if (refreshTimer) clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => void refreshList().then(renderProgress), 100);
}

async function open(id: string): Promise<void> {
  await busy('Opening…', () => mod.environments.open(id));
}

async function act(id: string, op: 'suspend' | 'resume' | 'terminate'): Promise<void> {
  const label = { suspend: 'Suspending…', resume: 'Resuming…', terminate: 'Terminating…' }[op];
  await busy(label, async () => {
    await mod.environments[op](id);
    await refreshList();
  });
}

function envRow(e: EnvironmentView): HTMLElement {
  const isLive = e.state !== 'terminated' && e.state !== 'failed';
  const display = str(e.spec['display']);
  return h(
    'tr',
    { 'data-env': e.id, 'data-state': e.state },
    h(
      'td',
      {},
      h('strong', {}, e.name),
      h('div', { class: 'sub' }, `${display} · ${e.runtime?.kind ?? str(e.spec['runtime'])}`),
    ),
    h(
      'td',
      {},
      h('span', { class: `state state-${e.state}` }, e.state),
      e.reason ? h('div', { class: 'sub' }, e.reason) : null,
    ),
    h('td', { class: 'sub' }, formatTime(e.createdAt)),
    h(
      'td',
      { class: 'actions' },
      e.state === 'running' && display !== 'none'
        ? h(
            'button',
            { 'data-action': 'open', class: 'primary', onclick: () => void open(e.id) },
            'Open',
          )
        : null,
      e.state === 'running'
        ? h(
            'button',
            { 'data-action': 'suspend', onclick: () => void act(e.id, 'suspend') },
            'Suspend',
          )
        : null,
      e.state === 'suspended'
        ? h(
            'button',
            { 'data-action': 'resume', onclick: () => void act(e.id, 'resume') },
            'Resume',
          )
        : null,
      isLive
        ? h(
            'button',
            {
              'data-action': 'terminate',
              class: 'danger',
              onclick: () => void act(e.id, 'terminate'),
            },
            'Terminate',
          )
        : null,
    ),
  );
}

let isShowingEnded = false;

async function refreshList(): Promise<void> {
  envs = await mod.environments.list();
  const shown = envs
    .filter((e) => isShowingEnded || (e.state !== 'terminated' && e.state !== 'failed'))
    .sort((a, b) => b.createdAt - a.createdAt);
  const ended =
    envs.length - envs.filter((e) => e.state !== 'terminated' && e.state !== 'failed').length;
  render(
    listEl,
    h(
      'div',
      { class: 'card' },
      h(
        'div',
        { class: 'row' },
        h('strong', {}, 'Environments'),
        h('span', { class: 'sub' }, `${shown.length} shown`),
        ended > 0
          ? h(
              'button',
              {
                onclick: () => {
                  isShowingEnded = !isShowingEnded;
                  void refreshList();
                },
              },
              isShowingEnded ? 'Hide ended' : `Show ended (${ended})`,
            )
          : null,
        h('button', { onclick: () => void refreshList() }, 'Refresh'),
      ),
      shown.length
        ? h('table', { id: 'env-list' }, h('tbody', {}, shown.map(envRow)))
        : h('p', { class: 'sub' }, 'No environments yet.'),
    ),
  );
}

async function follow(): Promise<void> {
  await mod.environments.watch(onEvent, {
    onEnd: (reason) => {
      setStatus(`Live updates stopped (${reason}).`);
    },
  });
}

void (async () => {
  mod = await connect();
  render(
    app,
    h(
      'div',
      { class: 'card' },
      h('label', { for: 'request' }, h('strong', {}, 'What do you need?')),
      requestBox,
      h(
        'div',
        { class: 'row' },
        h('button', { id: 'compose', class: 'primary', onclick: () => void compose() }, 'Compose'),
        h('span', { class: 'sub' }, 'Nothing is created until you press Provision.'),
      ),
    ),
    statusEl,
    reviewEl,
    progressEl,
    listEl,
  );
  requestBox.addEventListener('keydown', (ev) => {
    if (ev.key === 'Enter' && (ev.ctrlKey || ev.metaKey)) void compose();
  });
  // Keys of the shell's embedded keyboard go to the focused field (or the request box).
  mod.onKey((k) => {
    const el =
      document.activeElement instanceof HTMLInputElement ||
      document.activeElement instanceof HTMLTextAreaElement
        ? document.activeElement
        : requestBox;
    if (k === 'Backspace') el.value = el.value.slice(0, -1);
    else if (k === 'Enter') {
      if (el === requestBox) void compose();
    } else if (k.length === 1) el.value += k;
  });
  await follow();
  await refreshList();
  app.dataset['ready'] = 'true';
})().catch((e: unknown) => render(app, h('div', { class: 'alert' }, `Error: ${errorText(e)}`)));
