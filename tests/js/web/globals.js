// The global surface: what exists, what is absent, property shapes, and the
// small globals (crypto, structuredClone, timers, queueMicrotask,
// performance, navigator, self, Blob).
const out = [];
function eq(name, actual, expected) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  out.push((a === e ? 'ok ' : 'FAIL ') + name + (a === e ? '' : ` got ${a} want ${e}`));
}
function throwsName(fn) { try { fn(); return 'no throw'; } catch (e) { return e.name; } }

const present = ['console', 'URL', 'URLSearchParams', 'TextEncoder', 'TextDecoder', 'atob', 'btoa', 'crypto',
  'structuredClone', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'performance',
  'AbortController', 'AbortSignal', 'EventTarget', 'Event', 'DOMException', 'Blob', 'Headers', 'Request', 'Response',
  'fetch', 'self', 'navigator'];
const absent = ['__corralInstallWeb', '__corralWebParts', 'ReadableStream', 'WebSocket', 'caches', 'FormData', 'File',
  'CustomEvent', 'Intl', 'require', 'process', 'std', 'os', 'native', 'Crypto', 'Performance', 'Navigator'];

export default {
  async fetch() {
    eq('present globals', present.filter((n) => !(n in globalThis)), []);
    eq('absent globals', absent.filter((n) => n in globalThis), []);
    eq('globals non-enumerable', present.filter((n) => Object.getOwnPropertyDescriptor(globalThis, n).enumerable), []);
    eq('globals writable+configurable', present.filter((n) => { const d = Object.getOwnPropertyDescriptor(globalThis, n); return !d.writable || !d.configurable; }), []);
    eq('self is globalThis', self === globalThis, true);
    eq('navigator', [navigator.userAgent, navigator.hardwareConcurrency], ['Cloudflare-Workers', 1]);
    eq('performance.now', typeof performance.now() === 'number' && performance.now() >= 0, true);
    eq('performance.timeOrigin', performance.timeOrigin > 1e12, true);
    eq('class names', [URL.name, Headers.name, Request.name, Response.name, Blob.name, TextDecoder.name, DOMException.name], ['URL', 'Headers', 'Request', 'Response', 'Blob', 'TextDecoder', 'DOMException']);
    eq('method lengths', [Headers.prototype.append.length, URLSearchParams.prototype.append.length, EventTarget.prototype.addEventListener.length, setTimeout.length, fetch.length], [2, 2, 2, 1, 1]);

    // crypto
    const u = crypto.randomUUID();
    eq('randomUUID v4 shape', /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/.test(u), true);
    eq('randomUUID differs', crypto.randomUUID() !== u, true);
    const arr = new Uint32Array(8);
    eq('getRandomValues returns same array', crypto.getRandomValues(arr) === arr, true);
    eq('getRandomValues BigInt64Array ok', crypto.getRandomValues(new BigInt64Array(2)).length, 2);
    eq('getRandomValues Float32Array', throwsName(() => crypto.getRandomValues(new Float32Array(2))), 'TypeMismatchError');
    eq('getRandomValues DataView', throwsName(() => crypto.getRandomValues(new DataView(new ArrayBuffer(2)))), 'TypeMismatchError');
    eq('getRandomValues 65536 ok', crypto.getRandomValues(new Uint8Array(65536)).length, 65536);
    eq('getRandomValues 65537', throwsName(() => crypto.getRandomValues(new Uint8Array(65537))), 'QuotaExceededError');
    eq('crypto.subtle absent', crypto.subtle, undefined);
    eq('crypto toStringTag', Object.prototype.toString.call(crypto), '[object Crypto]');

    // structuredClone
    const src = { a: [1, { b: 2 }], d: new Date(0), m: new Map([['k', 1]]), s: new Set([1]) };
    const c = structuredClone(src);
    eq('clone deep copy', c !== src && c.a !== src.a && c.a[1].b === 2, true);
    eq('clone Date', c.d instanceof Date && c.d.getTime() === 0, true);
    eq('clone Map/Set', c.m.get('k') === 1 && c.s.has(1), true);
    let err = null; try { structuredClone({ f() {} }); } catch (e) { err = e; }
    eq('clone function DataCloneError', [err instanceof DOMException, err && err.name, err && err.code], [true, 'DataCloneError', 25]);
    eq('clone no args', throwsName(() => structuredClone()), 'TypeError');

    // Blob
    const b = new Blob(['ab', new Uint8Array([99]), new Blob(['d']), new Uint16Array([0x6665]).buffer], { type: 'Text/Plain' });
    eq('blob size/type', [b.size, b.type], [6, 'text/plain']);
    eq('blob text', await b.text(), 'abcdef');
    eq('blob slice', await b.slice(1, -1).text(), 'bcde');
    eq('blob slice negative start', await b.slice(-2).text(), 'ef');
    eq('blob slice type', b.slice(0, 1, 'X/Y').type, 'x/y');
    eq('blob bytes', [...await b.slice(0, 2).bytes()], [97, 98]);
    eq('blob arrayBuffer', (await b.arrayBuffer()).byteLength, 6);
    eq('blob bad type ignored', new Blob([], { type: 'a\u00e9' }).type, '');
    eq('blob empty', new Blob().size, 0);
    eq('blob bad parts', throwsName(() => new Blob('abc')), 'TypeError');

    // timers and microtasks
    const order = [];
    await new Promise((resolve) => {
      setTimeout(() => order.push('t10'), 10);
      setTimeout((a, b) => order.push('t0:' + a + b), 0, 'x', 'y');
      const cancelled = setTimeout(() => order.push('cancelled'), 1);
      clearTimeout(cancelled);
      queueMicrotask(() => order.push('micro'));
      Promise.resolve().then(() => order.push('promise'));
      let n = 0;
      const iv = setInterval(() => { order.push('iv' + (++n)); if (n === 3) clearInterval(iv); }, 2);
      setTimeout(resolve, 40);
      order.push('sync');
    });
    eq('timer ordering', order.slice(0, 4), ['sync', 'micro', 'promise', 't0:xy']);
    eq('interval ran 3 times, cancelled timer never', [order.filter((x) => x.startsWith('iv')).length, order.includes('cancelled'), order.includes('t10')], [3, false, true]);
    eq('setTimeout returns positive id', setTimeout(() => {}, 0) > 0, true);
    eq('string callback TypeError', throwsName(() => setTimeout('code()', 0)), 'TypeError');
    eq('queueMicrotask non-function', throwsName(() => queueMicrotask(1)), 'TypeError');
    return new Response(out.join('\n'));
  },
};
