/**
 * Settings: the vault's settings as a small form for the known ones (idle lock, blur when hidden,
 * randomised keyboard) and a raw list of the rest. Capabilities: settings:read/write.
 */
import { connect, h, render, type VirtosModule } from '@virtos/module-sdk';

const app = document.getElementById('app') as HTMLElement;
const status = h('div', { class: 'status', id: 'status', role: 'status' });
let mod: VirtosModule;

const KNOWN: { key: string; label: string; kind: 'bool' | 'number'; def: boolean | number }[] = [
  { key: 'security.idleLockMinutes', label: 'Lock after idle (minutes)', kind: 'number', def: 15 },
  {
    key: 'security.blurWhenHidden',
    label: 'Blur content when the page is hidden',
    kind: 'bool',
    def: true,
  },
  {
    key: 'keyboard.randomLayout',
    label: 'Randomise the embedded keyboard for secrets',
    kind: 'bool',
    def: false,
  },
];

async function refresh(): Promise<void> {
  const all = await mod.settings.list();
  const byKey = new Map(all.map((e) => [e.key, e.value]));
  render(
    app,
    h('strong', {}, 'Settings'),
    KNOWN.map((k) => {
      const v = byKey.get(k.key) ?? k.def;
      const input =
        k.kind === 'bool'
          ? h('input', { type: 'checkbox', id: k.key, checked: v === true })
          : h('input', { type: 'number', id: k.key, min: 1, max: 1440, value: Number(v) });
      input.addEventListener('change', () => {
        const value = k.kind === 'bool' ? input.checked : Number(input.value);
        void mod.settings.set(k.key, value).then(() => (status.textContent = `Saved ${k.label}.`));
      });
      return h('label', { class: 'row card' }, input, k.label);
    }),
    h(
      'details',
      {},
      h('summary', {}, 'All settings'),
      h(
        'table',
        {},
        h(
          'tbody',
          {},
          all.map((e) => h('tr', {}, h('td', {}, e.key), h('td', {}, JSON.stringify(e.value)))),
        ),
      ),
    ),
    status,
  );
  app.dataset['ready'] = 'true';
}

void (async () => {
  mod = await connect();
  await refresh();
})();
