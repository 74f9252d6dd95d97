/**
 * Notes: a markdown editor with live preview, tags, search and revisions. Everything goes through
 * the module SDK (notes:read, notes:write, search); the preview HTML comes only from the
 * escape-first renderer.
 */
import {
  connect,
  formatTime,
  h,
  render,
  type NoteView,
  type VirtosModule,
} from '@virtos/module-sdk';
import { renderMarkdown } from './markdown.js';

interface State {
  notes: NoteView[];
  current: NoteView | undefined;
  filter: string;
  tag: string | undefined;
  hits: Set<string> | undefined;
  isDirty: boolean;
  status: string;
  revisions: NoteView[] | undefined;
}

const app = document.getElementById('app') as HTMLElement;
const s: State = {
  notes: [],
  current: undefined,
  filter: '',
  tag: undefined,
  hits: undefined,
  isDirty: false,
  status: 'Connecting…',
  revisions: undefined,
};

const title = h('input', { id: 'title', placeholder: 'Title', 'aria-label': 'Title' });
const tags = h('input', { id: 'tags', placeholder: 'tags, comma separated', 'aria-label': 'Tags' });
const body = h('textarea', { id: 'body', placeholder: 'Write markdown…', 'aria-label': 'Body' });
const preview = h('div', { id: 'preview', class: 'preview' });
const search = h('input', { id: 'search', type: 'search', placeholder: 'Search notes' });
const list = h('ul', { id: 'list', class: 'list' });
const tagBar = h('div', { class: 'tags' });
const status = h('div', { id: 'status', class: 'status', role: 'status' });
const side = h('div', { id: 'revisions', class: 'revisions' });

function updatePreview(): void {
  // SECURITY: renderMarkdown escapes the note first and writes only its own markup; the frame's
  // CSP (script hash only) would also refuse any inline handler that slipped through.
  preview.innerHTML = renderMarkdown(body.value);
}

function setStatus(t: string): void {
  s.status = t;
  status.textContent = t;
}

function drawList(): void {
  const allTags = [...new Set(s.notes.flatMap((n) => n.tags))].sort();
  render(
    tagBar,
    allTags.map((t) =>
      h(
        'button',
        {
          class: t === s.tag ? 'tag on' : 'tag',
          onclick: () => {
            s.tag = s.tag === t ? undefined : t;
            drawList();
          },
        },
        `#${t}`,
      ),
    ),
  );
  const shown = s.notes.filter(
    (n) => (!s.hits || s.hits.has(n.id)) && (!s.tag || n.tags.includes(s.tag)),
  );
  render(
    list,
    shown.length === 0 ? h('li', { class: 'empty' }, 'No notes') : null,
    shown.map((n) =>
      h(
        'li',
        {
          class: n.id === s.current?.id ? 'item on' : 'item',
          'data-id': n.id,
          onclick: () => void open(n.id),
        },
        h('b', {}, n.title),
        h('small', {}, formatTime(n.updatedAt)),
      ),
    ),
  );
}

function fill(n: NoteView | undefined): void {
  s.current = n;
  title.value = n?.title ?? '';
  tags.value = n?.tags.join(', ') ?? '';
  body.value = n?.body ?? '';
  s.isDirty = false;
  s.revisions = undefined;
  render(side);
  updatePreview();
  drawList();
}

let mod: VirtosModule;

async function refresh(): Promise<void> {
  s.notes = await mod.notes.list();
  drawList();
}

async function open(id: string): Promise<void> {
  if (s.isDirty && !(await save())) return;
  fill(await mod.notes.get(id));
  setStatus(`Opened “${s.current?.title ?? ''}” (revision ${s.current?.revision ?? 0})`);
}

function parseTags(): string[] {
  return tags.value
    .split(',')
    .map((t) => t.trim())
    .filter(Boolean);
}

async function save(): Promise<boolean> {
  const t = title.value.trim();
  if (!t) {
    setStatus('A note needs a title.');
    title.focus();
    return false;
  }
  try {
    const input = { title: t, body: body.value, tags: parseTags() };
    const n = s.current
      ? await mod.notes.update(s.current.id, input)
      : await mod.notes.create(input);
    s.current = n;
    s.isDirty = false;
    await refresh();
    setStatus(`Saved “${n.title}” (revision ${n.revision})`);
    return true;
  } catch (e) {
    setStatus(`Could not save: ${(e as Error).message}`);
    return false;
  }
}

async function showRevisions(): Promise<void> {
  if (!s.current) return;
  const revs = await mod.notes.revisions(s.current.id);
  render(
    side,
    h('h3', {}, `Revisions (${revs.length})`),
    revs.length === 0 ? h('p', {}, 'No earlier versions.') : null,
    revs
      .slice()
      .reverse()
      .map((r) =>
        h(
          'div',
          { class: 'rev' },
          h('span', {}, `#${r.revision} · ${formatTime(r.updatedAt)}`),
          h(
            'button',
            {
              onclick: () => {
                title.value = r.title;
                body.value = r.body;
                tags.value = r.tags.join(', ');
                s.isDirty = true;
                updatePreview();
                setStatus(`Restored revision ${r.revision}; save to keep it.`);
              },
            },
            'Restore',
          ),
        ),
      ),
  );
}

let searchTimer: ReturnType<typeof setTimeout> | undefined;
search.addEventListener('input', () => {
  clearTimeout(searchTimer);
  searchTimer = setTimeout(() => {
    void (async () => {
      const q = search.value.trim();
      s.hits = q
        ? new Set(
            (await mod.search.query(q, 100)).filter((x) => x.kind === 'note').map((x) => x.id),
          )
        : undefined;
      drawList();
    })();
  }, 150);
});
for (const el of [title, tags, body]) {
  el.addEventListener('input', () => {
    s.isDirty = true;
    if (el === body) updatePreview();
  });
}
document.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && e.key === 's') {
    e.preventDefault();
    void save();
  }
});

render(
  app,
  h(
    'aside',
    { class: 'sidebar' },
    h(
      'div',
      { class: 'row' },
      search,
      h('button', { id: 'new', onclick: () => fill(undefined) }, 'New'),
    ),
    tagBar,
    list,
  ),
  h(
    'main',
    { class: 'editor' },
    h(
      'div',
      { class: 'row' },
      title,
      h('button', { id: 'save', class: 'primary', onclick: () => void save() }, 'Save'),
      h('button', { id: 'history', onclick: () => void showRevisions() }, 'Revisions'),
      h(
        'button',
        {
          id: 'delete',
          onclick: () =>
            void (async () => {
              if (!s.current) return;
              await mod.notes.remove(s.current.id);
              fill(undefined);
              await refresh();
              setStatus('Deleted.');
            })(),
        },
        'Delete',
      ),
    ),
    tags,
    h('div', { class: 'split' }, body, preview),
    side,
    status,
  ),
);

void (async () => {
  mod = await connect();
  // Keys from the shell's embedded keyboard go to the focused field.
  mod.onKey((k) => {
    const el = document.activeElement;
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
      if (k === 'Backspace') el.value = el.value.slice(0, -1);
      else if (k === 'Enter') el.value += el instanceof HTMLTextAreaElement ? '\n' : '';
      else if (k.length === 1) el.value += k;
      el.dispatchEvent(new Event('input'));
    }
  });
  await refresh();
  setStatus(`${s.notes.length} notes`);
  app.dataset['ready'] = 'true';
})().catch((e: unknown) => setStatus(`Error: ${(e as Error).message}`));
