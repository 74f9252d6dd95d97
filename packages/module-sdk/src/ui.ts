/**
 * A tiny DOM helper for modules: elements from tag, properties and children, where text is
 * always set as text (never parsed as HTML). Modules that need HTML (a markdown preview) build it
 * with their own sanitiser.
 */

/** Properties of {@link h}: `on*` functions become listeners, the rest attributes. */
export type Props = Record<string, string | number | boolean | ((ev: Event) => void) | undefined>;
/** A child: an element, text, or nothing. */
export type Child = Node | string | number | false | null | undefined;

/** Makes an element. Strings become text nodes, so note or file content can never inject markup. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: (Child | Child[])[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (v === undefined || v === false) continue;
    if (typeof v === 'function') el.addEventListener(k.slice(2).toLowerCase(), v);
    else if (k === 'value' && 'value' in el) (el as unknown as { value: string }).value = String(v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c === false || c === null || c === undefined) continue;
    el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return el;
}

/** Replaces an element's children. */
export function render(target: Element, ...children: (Child | Child[])[]): void {
  target.replaceChildren(
    ...children
      .flat()
      .filter((c): c is Node | string | number => c !== false && c !== null && c !== undefined)
      .map((c) => (c instanceof Node ? c : document.createTextNode(String(c)))),
  );
}

/** Formats a byte count (B, KiB, MiB, GiB). */
export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

/** Formats ms since the epoch as a short local date and time. */
export function formatTime(ms: number): string {
  return new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}
