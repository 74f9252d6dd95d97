/**
 * Files: the vault's files. Upload by picker or drag and drop, download (the shell saves it; a
 * sandboxed frame cannot), preview of images and text, delete. Capabilities: files:read/write.
 */
import {
  connect,
  formatBytes,
  formatTime,
  h,
  render,
  type FileView,
  type VirtosModule,
} from '@virtos/module-sdk';

const app = document.getElementById('app') as HTMLElement;
const table = h('tbody', { id: 'files' });
const preview = h('div', { class: 'preview', id: 'preview' });
const status = h('div', { class: 'status', id: 'status', role: 'status' });
const picker = h('input', { type: 'file', multiple: true, id: 'picker' });
const drop = h('div', { class: 'drop', id: 'drop' }, 'Drop files here to add them to the vault');
let mod: VirtosModule;
let previewUrl: string | undefined;

const IMAGE = /^image\/(png|jpeg|gif|webp|avif|bmp)$/;
const TEXT = /^(text\/|application\/(json|xml|javascript))/;

async function upload(files: FileList | File[]): Promise<void> {
  for (const f of Array.from(files)) {
    status.textContent = `Uploading ${f.name}…`;
    const data = await f.arrayBuffer();
    const mime = /^[a-z0-9.+-]+\/[a-z0-9.+-]+$/i.test(f.type) ? f.type : 'application/octet-stream';
    await mod.files.put(f.name, data, mime);
  }
  status.textContent = `Added ${Array.from(files).length} file(s).`;
  await refresh();
}

async function show(f: FileView): Promise<void> {
  if (previewUrl) URL.revokeObjectURL(previewUrl);
  previewUrl = undefined;
  if (IMAGE.test(f.mime) && f.size < 20 * 1024 * 1024) {
    const data = await mod.files.read(f.id);
    // SECURITY: raster images only (no SVG: it can carry script); shown from a blob URL that the
    // frame's CSP allows for images alone.
    previewUrl = URL.createObjectURL(new Blob([data], { type: f.mime }));
    render(preview, h('img', { src: previewUrl, alt: f.name }));
  } else if ((TEXT.test(f.mime) || f.size < 64 * 1024) && f.size < 1024 * 1024) {
    const data = await mod.files.read(f.id);
    // Text is shown as text (textContent), never parsed as HTML.
    render(preview, h('pre', {}, new TextDecoder().decode(data)));
  } else {
    render(preview, h('p', {}, `No preview for ${f.mime}.`));
  }
}

async function refresh(): Promise<void> {
  const files = await mod.files.list();
  render(
    table,
    files.length === 0 ? h('tr', {}, h('td', { colspan: 4 }, 'No files yet.')) : null,
    files.map((f) =>
      h(
        'tr',
        { 'data-id': f.id },
        h(
          'td',
          {},
          h('a', { href: '#', onclick: (e) => (e.preventDefault(), void show(f)) }, f.name),
        ),
        h('td', {}, formatBytes(f.size)),
        h('td', {}, formatTime(f.updatedAt)),
        h(
          'td',
          {},
          h(
            'button',
            {
              onclick: () => void mod.files.read(f.id).then((d) => mod.download(f.name, d, f.mime)),
            },
            'Download',
          ),
          ' ',
          h(
            'button',
            { class: 'danger', onclick: () => void mod.files.remove(f.id).then(refresh) },
            'Delete',
          ),
        ),
      ),
    ),
  );
}

picker.addEventListener('change', () => picker.files && void upload(picker.files));
drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (e) => {
  e.preventDefault();
  drop.classList.remove('over');
  if (e.dataTransfer?.files.length) void upload(e.dataTransfer.files);
});

render(
  app,
  h('div', { class: 'row' }, h('strong', {}, 'Vault files'), picker),
  drop,
  h(
    'table',
    {},
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', {}, 'Name'),
        h('th', {}, 'Size'),
        h('th', {}, 'Changed'),
        h('th', {}, ''),
      ),
    ),
    table,
  ),
  preview,
  status,
);

void (async () => {
  mod = await connect();
  await refresh();
  app.dataset['ready'] = 'true';
})().catch((e: unknown) => (status.textContent = `Error: ${(e as Error).message}`));
