import { describe, expect, it } from 'vitest';
import { escapeHtml, renderMarkdown } from '../notes/src/markdown.js';

describe('markdown renderer', () => {
  it('renders the common constructs', () => {
    const html = renderMarkdown(
      '# Title\n\nSome **bold**, *it* and `code`.\n\n- a\n- [x] done\n\n1. one\n\n> quote\n\n---\n\n```js\nlet a = 1 < 2;\n```',
    );
    expect(html).toContain('<h1>Title</h1>');
    expect(html).toContain('<strong>bold</strong>');
    expect(html).toContain('<em>it</em>');
    expect(html).toContain('<code>code</code>');
    expect(html).toContain(
      '<ul><li>a</li><li><input type="checkbox" disabled checked> done</li></ul>',
    );
    expect(html).toContain('<ol><li>one</li></ol>');
    expect(html).toContain('<blockquote><p>quote</p></blockquote>');
    expect(html).toContain('<hr>');
    expect(html).toContain('<pre><code class="lang-js">let a = 1 &lt; 2;</code></pre>');
  });

  it.each([
    ['<script>alert(1)</script>'],
    ['<img src=x onerror=alert(1)>'],
    ['<svg onload=alert(1)>'],
    ['<a href="javascript:alert(1)">x</a>'],
    ['[x](javascript:alert(1))'],
    ['[x](JaVaScRiPt:alert(1))'],
    ['[x](data:text/html,<script>alert(1)</script>)'],
    ['[x](http://a" onmouseover="alert(1))'],
    ['[x](https://a/"onmouseover=alert(1)//)'],
    ['```"><script>alert(1)</script>\ncode\n```'],
    ['**<iframe src=x>**'],
    ['`<b>`<i>'],
    ['# <style>*{}</style>'],
    ['\u0000<script>\u0000'],
  ])('no active markup from %s', (src) => {
    const html = renderMarkdown(src);
    // Every tag in the output is one the renderer writes itself, with only its own attributes.
    const allowed = new Set([
      'h1',
      'h2',
      'h3',
      'h4',
      'h5',
      'h6',
      'p',
      'br',
      'strong',
      'em',
      'del',
      'code',
      'pre',
      'ul',
      'ol',
      'li',
      'blockquote',
      'hr',
      'a',
      'input',
    ]);
    const attr =
      /^(\s+(href="(https?:\/\/|mailto:)[^"<>]*"|rel="noopener noreferrer nofollow"|target="_blank"|class="lang-[\w-]*"|type="checkbox"|disabled|checked))*$/;
    for (const m of html.matchAll(/<\/?([a-zA-Z0-9]+)([^>]*)>/g)) {
      expect(allowed.has(m[1]?.toLowerCase() ?? ''), `tag ${m[0]} in ${html}`).toBe(true);
      expect(m[2] ?? '', `attributes of ${m[0]}`).toMatch(attr);
    }
    // No raw angle bracket survives outside the renderer's own tags.
    expect(html.replace(/<\/?([a-zA-Z0-9]+)([^>]*)>/g, '')).not.toMatch(/[<>]/);
  });

  it('keeps safe links as links with rel and no referrer', () => {
    expect(renderMarkdown('[VirtOS](https://example.org/a?b=1&c=2)')).toBe(
      '<p><a href="https://example.org/a?b=1&amp;c=2" rel="noopener noreferrer nofollow" target="_blank">VirtOS</a></p>',
    );
  });

  it('escapes all five HTML characters', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe(
      '&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;',
    );
  });
});
