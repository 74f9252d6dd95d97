/**
 * Search: one box across notes (title, body, tags) and file names, with snippets.
 */
import { connect, h, render, type VirtosModule } from '@virtos/module-sdk';

const app = document.getElementById('app') as HTMLElement;
const box = h('input', {
  type: 'search',
  id: 'q',
  placeholder: 'Search notes and files',
  autofocus: true,
});
const results = h('div', {
  id: 'results',
  class: 'row',
  style: 'flex-direction:column;align-items:stretch',
});
let mod: VirtosModule;

/** The snippet marks matches between [ and ]; show them bold, as DOM nodes (no HTML parsing). */
function snippet(s: string): (Node | string)[] {
  return s
    .split(/(\[[^\]]*\])/)
    .map((part) => (/^\[.*\]$/.test(part) ? h('b', {}, part.slice(1, -1)) : part));
}

async function run(): Promise<void> {
  const q = box.value.trim();
  if (!q) return render(results);
  const hits = await mod.search.query(q, 50);
  render(
    results,
    hits.length === 0 ? h('p', {}, `Nothing found for “${q}”.`) : null,
    hits.map((x) =>
      h(
        'div',
        { class: 'hit' },
        h('small', {}, x.kind === 'note' ? 'Note' : 'File'),
        ' ',
        h('strong', {}, x.title),
        h('div', {}, ...snippet(x.snippet)),
      ),
    ),
  );
}

let t: ReturnType<typeof setTimeout> | undefined;
box.addEventListener('input', () => {
  clearTimeout(t);
  t = setTimeout(() => void run(), 150);
});
render(app, h('div', { class: 'row' }, box), results);
void (async () => {
  mod = await connect();
  app.dataset['ready'] = 'true';
})();
