// args: --call run
// The web globals are installed on first use (lib/engine/lazy.c); this
// checks that code cannot tell: presence, descriptors, identity, assignment,
// deletion and redefinition before first use, inheritance, a part that
// fails to load half-way (stack overflow) and loads on the next try, and
// first use inside a nested module (./lazy/child.js). An RPC call, not
// fetch, so no part is loaded by the runtime before this code runs; the
// child module loads the console and URL parts, the rest are unloaded when
// run() starts, and the order of the steps below depends on that.
import { urlType, href } from './lazy/child.js';

const names = ['console', 'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'atob', 'btoa', 'crypto',
  'structuredClone', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'performance',
  'AbortController', 'AbortSignal', 'EventTarget', 'Event', 'DOMException', 'Blob', 'Headers', 'Request', 'Response',
  'fetch', 'self', 'navigator'];
const out = [];
function eq(name, actual, expected) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  out.push((a === e ? 'ok ' : 'FAIL ') + name + (a === e ? '' : ` got ${a} want ${e}`));
}
const shape = (d) => d && [typeof d.value, 'get' in d, d.writable, d.enumerable, d.configurable];
const dataGlobal = ['function', false, true, false, true];

export default {
  run() {
    eq('nested module saw URL', [urlType, href], ['function', 'https://example.com/a/b/c?x=1']);
    const own = Object.getOwnPropertyNames(globalThis);
    eq('all present by name', names.filter((n) => !own.includes(n)), []);
    eq('all present by in', names.filter((n) => !(n in globalThis)), []);
    eq('none enumerable', Object.keys(globalThis).filter((n) => names.includes(n)), []);

    // Before the fetch part loads: an assignment wins over the part.
    globalThis.Blob = 1;
    eq('assigned before use', shape(Object.getOwnPropertyDescriptor(globalThis, 'Blob')), ['number', false, true, false, true]);
    // Before the encoding part loads: a deletion and a partial redefinition.
    eq('delete before use', delete globalThis.TextDecoder, true);
    Object.defineProperty(globalThis, 'navigator', { writable: false });
    const nav = Object.getOwnPropertyDescriptor(globalThis, 'navigator');
    eq('partial redefinition keeps the value', [nav.value && nav.value.userAgent, nav.writable, nav.configurable],
      ['Cloudflare-Workers', false, true]);
    eq('deleted stays deleted after its part loads', ['TextDecoder' in globalThis, typeof TextEncoder, atob('aGk=')],
      [false, 'function', 'hi']);
    // Before the events part loads: setting through an inheriting object.
    const heir = Object.create(globalThis);
    heir.AbortController = 5;
    eq('set on an heir', [Object.getOwnPropertyDescriptor(heir, 'AbortController'), typeof AbortController],
      [{ value: 5, writable: true, enumerable: true, configurable: true }, 'function']);
    eq('heir reads through', Object.create(globalThis).URLSearchParams === URLSearchParams, true);

    // The fetch part, first used where the stack runs out: the attempts
    // that overflow leave nothing behind and a later one succeeds.
    let tries = 0;
    function deep() {
      try { return deep(); } catch (e) { tries++; return typeof Headers; }
    }
    eq('loaded at the edge of the stack', [deep(), tries > 1], ['function', true]);
    const h = new Headers({ a: '1' });
    eq('works after a failed try', [h.get('a'), new Response('x').status, typeof Request, Blob], ['1', 200, 'function', 1]);

    // Everything is loaded now: the eager shape everywhere.
    eq('descriptor after use', shape(Object.getOwnPropertyDescriptor(globalThis, 'Headers')), dataGlobal);
    eq('descriptor value is the global', Object.getOwnPropertyDescriptor(globalThis, 'Headers').value === Headers, true);
    eq('Reflect descriptor', shape(Reflect.getOwnPropertyDescriptor(globalThis, 'AbortSignal')), dataGlobal);
    eq('__lookupGetter__', globalThis.__lookupGetter__('queueMicrotask'), undefined);
    const all = Object.getOwnPropertyDescriptors(globalThis);
    eq('descriptors of all', names.filter((n) => n !== 'TextDecoder' && n !== 'navigator' && n !== 'Blob')
      .filter((n) => 'get' in all[n] || !all[n].writable || all[n].enumerable || !all[n].configurable), []);
    eq('typeof', [typeof TextEncoder, typeof crypto, typeof fetch, typeof self], ['function', 'object', 'function', 'object']);
    eq('identity stable', [URL === URL, globalThis.Headers === Headers, fetch === globalThis.fetch, self === globalThis],
      [true, true, true, true]);
    globalThis.URL = 1;
    eq('assigned after use', [URL, shape(Object.getOwnPropertyDescriptor(globalThis, 'URL'))], [1, ['number', false, true, false, true]]);
    eq('delete after use', [delete globalThis.fetch, 'fetch' in globalThis], [true, false]);
    eq('wrapped reflection looks native', [Object.getOwnPropertyDescriptor.name, Object.getOwnPropertyDescriptor.length,
      Object.defineProperty.length, String(Reflect.defineProperty).includes('[native code]'),
      Object.prototype.propertyIsEnumerable.call(Object, 'defineProperty')], ['getOwnPropertyDescriptor', 2, 3, true, false]);
    return out;
  },
};
