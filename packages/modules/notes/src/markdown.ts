/**
 * A small markdown renderer that is safe by construction: the source is HTML-escaped FIRST, then a
 * fixed set of constructs becomes markup (headings, paragraphs, emphasis, code, lists, quotes,
 * rules, links). No raw HTML passes through; links keep only http(s) and mailto targets.
 */

/** Escapes text for HTML text and double-quoted attributes. */
export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Link targets that may become an href (checked on the escaped text, prefix only). */
const SAFE_URL = /^(https?:\/\/|mailto:)[^\s]*$/i;

/** Inline markup on ALREADY ESCAPED text. */
function inline(escaped: string): string {
  const codes: string[] = [];
  // Code spans first, so nothing inside them is formatted.
  let s = escaped.replace(/`([^`]+)`/g, (_m, c: string) => {
    codes.push(`<code>${c}</code>`);
    return `\u0000${codes.length - 1}\u0000`;
  });
  s = s.replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_m, text: string, url: string) =>
    // SECURITY: only http(s)/mailto targets become links (no javascript:, data:, vbscript:);
    // the url was escaped with the rest, so it cannot leave its attribute.
    SAFE_URL.test(url)
      ? `<a href="${url}" rel="noopener noreferrer nofollow" target="_blank">${text}</a>`
      : `${text} (${url})`,
  );
  s = s
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/__([^_]+)__/g, '<strong>$1</strong>')
    .replace(/(^|[^*])\*([^*\s][^*]*)\*/g, '$1<em>$2</em>')
    .replace(/(^|[^\w])_([^_\s][^_]*)_(?!\w)/g, '$1<em>$2</em>')
    .replace(/~~([^~]+)~~/g, '<del>$1</del>');
  // eslint-disable-next-line no-control-regex
  return s.replace(/\u0000(\d+)\u0000/g, (_m, i: string) => codes[Number(i)] ?? '');
}

/** Renders markdown to HTML that contains only the markup this function writes. */
export function renderMarkdown(src: string): string {
  // NUL is our placeholder marker; it has no business in a note.
  const lines = src
    .replace(/\r\n?/g, '\n')
    // eslint-disable-next-line no-control-regex
    .replace(/\u0000/g, '')
    .split('\n');
  const out: string[] = [];
  let para: string[] = [];
  let list: { tag: 'ul' | 'ol'; items: string[] } | undefined;
  const flushPara = () => {
    if (para.length)
      out.push(`<p>${inline(escapeHtml(para.join('\n'))).replace(/\n/g, '<br>')}</p>`);
    para = [];
  };
  const flushList = () => {
    if (list)
      out.push(`<${list.tag}>${list.items.map((i) => `<li>${i}</li>`).join('')}</${list.tag}>`);
    list = undefined;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i] ?? '';
    const fence = /^```\s*([\w-]*)\s*$/.exec(line);
    if (fence) {
      flushPara();
      flushList();
      const code: string[] = [];
      i++;
      while (i < lines.length && !/^```\s*$/.test(lines[i] ?? '')) code.push(lines[i++] ?? '');
      const lang = fence[1] ? ` class="lang-${escapeHtml(fence[1])}"` : '';
      out.push(`<pre><code${lang}>${escapeHtml(code.join('\n'))}</code></pre>`);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    const item = /^\s*([-*+]|\d{1,9}[.)])\s+(.*)$/.exec(line);
    if (heading) {
      flushPara();
      flushList();
      const n = heading[1]?.length ?? 1;
      out.push(`<h${n}>${inline(escapeHtml(heading[2] ?? ''))}</h${n}>`);
    } else if (/^\s*([-*_])(\s*\1){2,}\s*$/.test(line)) {
      flushPara();
      flushList();
      out.push('<hr>');
    } else if (item) {
      flushPara();
      const tag = /\d/.test(item[1] ?? '') ? 'ol' : 'ul';
      if (list && list.tag !== tag) flushList();
      list ??= { tag, items: [] };
      const task = /^\[([ xX])\]\s+(.*)$/.exec(item[2] ?? '');
      list.items.push(
        task
          ? `<input type="checkbox" disabled${task[1] === ' ' ? '' : ' checked'}> ${inline(escapeHtml(task[2] ?? ''))}`
          : inline(escapeHtml(item[2] ?? '')),
      );
    } else if (/^>\s?/.test(line)) {
      flushPara();
      flushList();
      const quote: string[] = [];
      while (i < lines.length && /^>\s?/.test(lines[i] ?? '')) {
        quote.push((lines[i] ?? '').replace(/^>\s?/, ''));
        i++;
      }
      i--;
      out.push(`<blockquote>${renderMarkdown(quote.join('\n'))}</blockquote>`);
    } else if (line.trim() === '') {
      flushPara();
      flushList();
    } else {
      flushList();
      para.push(line);
    }
  }
  flushPara();
  flushList();
  return out.join('\n');
}
