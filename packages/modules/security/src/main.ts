/**
 * Security Center: vault status, the integrity check and alerts (shown so they cannot be missed),
 * unlockers, the audit log, and "Lock now". Capability: audit:read.
 */
import { connect, formatTime, h, render, type VirtosModule } from '@virtos/module-sdk';

const app = document.getElementById('app') as HTMLElement;
let mod: VirtosModule;

async function refresh(): Promise<void> {
  const [st, audit] = await Promise.all([mod.security.status(), mod.security.audit(100)]);
  render(
    app,
    st.alerts.length > 0
      ? h(
          'div',
          { class: 'alert', id: 'alerts', role: 'alert' },
          `${st.alerts.length} integrity alert(s): `,
          st.alerts.map((a) => `${a.kind}: ${a.message}`).join('; '),
        )
      : null,
    h(
      'div',
      { class: 'card' },
      h(
        'div',
        { class: 'row' },
        h('strong', {}, 'Vault'),
        h(
          'span',
          { class: st.integrity.ok ? 'ok' : 'bad', id: 'integrity' },
          st.integrity.ok ? 'Integrity OK' : 'Integrity PROBLEMS',
        ),
      ),
      h(
        'div',
        {},
        `Id ${st.vaultId.slice(0, 12)}… · format ${st.format} · ${st.counter} commits · created ${formatTime(st.createdAt)}`,
      ),
      h(
        'div',
        {},
        `Checked ${formatTime(st.integrity.checkedAt)}: ${st.integrity.objects} records, ${st.integrity.chunks} chunks`,
      ),
      h(
        'div',
        { class: 'row' },
        h(
          'button',
          { class: 'danger', id: 'lock', onclick: () => void mod.security.lock() },
          'Lock now',
        ),
        h('button', { onclick: () => void refresh() }, 'Re-check'),
      ),
    ),
    h(
      'div',
      { class: 'card' },
      h('strong', {}, 'Unlockers'),
      h(
        'table',
        {},
        h(
          'tbody',
          {},
          st.unlockers.map((u) =>
            h(
              'tr',
              {},
              h('td', {}, u.kind),
              h('td', {}, u.label),
              h('td', {}, formatTime(u.createdAt)),
            ),
          ),
        ),
      ),
    ),
    h(
      'div',
      { class: 'card' },
      h('strong', {}, 'Audit log'),
      h(
        'table',
        { id: 'audit' },
        h(
          'tbody',
          {},
          audit.map((e) =>
            h(
              'tr',
              {},
              h('td', {}, formatTime(e.at)),
              h('td', {}, e.action),
              h('td', {}, e.subject ?? ''),
              h('td', {}, e.details ? JSON.stringify(e.details) : ''),
            ),
          ),
        ),
      ),
    ),
  );
  app.dataset['ready'] = 'true';
}

void (async () => {
  mod = await connect();
  await refresh();
})().catch((e: unknown) =>
  render(app, h('div', { class: 'alert' }, `Error: ${(e as Error).message}`)),
);
