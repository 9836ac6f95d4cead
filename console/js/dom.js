/**
 * Small DOM helpers. Text always goes through text nodes / textContent: nothing here parses
 * HTML, so data from the API can never inject markup.
 */

let idCounter = 0;

/** A document-unique id with a readable prefix (for <label for>). */
export function uid(prefix = 'id') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

/**
 * Create an element.
 * attrs: `class`, `text` (textContent), `dataset` (object), `on<event>` (listener),
 * boolean true -> empty attribute, false/null/undefined -> omitted, anything else -> attribute.
 * children: nodes or strings (strings become text nodes), nested arrays, null/false skipped.
 * @param {string} tag
 * @param {Record<string, any>} [attrs]
 * @param {...any} children
 * @returns {HTMLElement}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'text') el.textContent = String(value);
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2), value);
    } else if (value === true) el.setAttribute(key, '');
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

/** Append nodes/strings (nested arrays allowed) to a parent. */
export function append(parent, children) {
  for (const child of [children].flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
  return parent;
}

/** Remove every child of an element. */
export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

const numberFormat = new Intl.NumberFormat('en-US');

/** 12345 -> "12,345". */
export function formatInt(n) {
  return numberFormat.format(Math.round(Number(n) || 0));
}

/** A USD cost with enough digits for sub-cent model calls. */
export function formatUsd(n) {
  const v = Number(n) || 0;
  if (v === 0) return '$0.00';
  if (v < 0.01) return `$${v.toFixed(6)}`;
  if (v < 1) return `$${v.toFixed(4)}`;
  return `$${v.toFixed(2)}`;
}

/** Milliseconds -> "12 ms" / "1.4 s". */
export function formatMs(ms) {
  const v = Number(ms);
  if (!Number.isFinite(v)) return '';
  return v < 1000 ? `${Math.round(v)} ms` : `${(v / 1000).toFixed(1)} s`;
}

/** An ISO timestamp -> local date and time; the raw text when it does not parse. */
export function formatTime(iso) {
  if (!iso) return '';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return String(iso);
  return d.toLocaleString(undefined, {
    year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit',
  });
}

/** A <time> element for an ISO timestamp. */
export function timeEl(iso) {
  return h('time', { datetime: iso || null, text: formatTime(iso) || '—' });
}

/** "N in · M out · $x" for a usage object {input_tokens, output_tokens, cost_usd}. */
export function usageText(u) {
  return `${formatInt(u.input_tokens)} tokens in · ${formatInt(u.output_tokens)} out · ${formatUsd(u.cost_usd)}`;
}
