// Headers, Request, Response and the parts of fetch() that need no network.
const out = [];
function eq(name, actual, expected) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  out.push((a === e ? 'ok ' : 'FAIL ') + name + (a === e ? '' : ` got ${a} want ${e}`));
}
function throwsName(fn) { try { fn(); return 'no throw'; } catch (e) { return e.name; } }
async function rejectsName(p) { try { await p; return 'resolved'; } catch (e) { return e.name; } }

export default {
  async fetch() {
    // Headers
    const h = new Headers({ 'Content-Type': 'text/plain', 'X-A': '1' });
    h.append('x-a', '2');
    h.append('Set-Cookie', 'a=1');
    h.append('set-cookie', 'b=2');
    eq('headers combined get', h.get('X-A'), '1, 2');
    eq('headers iteration sorted lowercase, set-cookie apart', [...h], [['content-type', 'text/plain'], ['set-cookie', 'a=1'], ['set-cookie', 'b=2'], ['x-a', '1, 2']]);
    eq('getSetCookie', h.getSetCookie(), ['a=1', 'b=2']);
    eq('has case-insensitive', h.has('CONTENT-type'), true);
    h.set('x-a', '3'); eq('set', h.get('x-a'), '3');
    h.delete('X-A'); eq('delete', h.has('x-a'), false);
    eq('get missing', h.get('nope'), null);
    eq('value trimmed', new Headers([['a', '  v \t']]).get('a'), 'v');
    eq('invalid name', throwsName(() => h.append('bad name', 'x')), 'TypeError');
    eq('invalid value', throwsName(() => h.append('a', 'x\ny')), 'TypeError');
    eq('bad pair', throwsName(() => new Headers([['a']])), 'TypeError');
    eq('copy from Headers', [...new Headers(h).keys()], ['content-type', 'set-cookie', 'set-cookie']);
    const fe = []; new Headers({ b: '2', a: '1' }).forEach((v, k) => fe.push(k + '=' + v)); eq('forEach sorted', fe, ['a=1', 'b=2']);
    eq('headers toStringTag', Object.prototype.toString.call(h), '[object Headers]');
    eq('headers brand check', throwsName(() => Headers.prototype.get.call({}, 'a')), 'TypeError');

    // Request
    const r = new Request('https://a.com/x', { method: 'post', body: 'hi', headers: { 'x-y': 'z' } });
    eq('method normalized', r.method, 'POST');
    eq('patch not normalized', new Request('https://a.com', { method: 'patch' }).method, 'patch');
    eq('url', r.url, 'https://a.com/x');
    eq('string body content-type', r.headers.get('content-type'), 'text/plain;charset=UTF-8');
    eq('redirect default', r.redirect, 'follow');
    eq('signal present', r.signal instanceof AbortSignal, true);
    eq('bodyUsed before', r.bodyUsed, false);
    const c = r.clone();
    eq('clone text', await c.text(), 'hi');
    eq('text', await r.text(), 'hi');
    eq('bodyUsed after', r.bodyUsed, true);
    eq('second read rejects', await rejectsName(r.text()), 'TypeError');
    eq('clone after use throws', throwsName(() => r.clone()), 'TypeError');
    eq('relative url throws', throwsName(() => new Request('/x')), 'TypeError');
    eq('GET with body throws', throwsName(() => new Request('https://a.com', { body: 'x' })), 'TypeError');
    eq('HEAD with body throws', throwsName(() => new Request('https://a.com', { method: 'HEAD', body: 'x' })), 'TypeError');
    eq('bad method throws', throwsName(() => new Request('https://a.com', { method: 'a b' })), 'TypeError');
    eq('bad redirect throws', throwsName(() => new Request('https://a.com', { redirect: 'nope' })), 'TypeError');
    const base = new Request('https://a.com/', { method: 'PUT', body: 'b', headers: { k: 'v' } });
    const derived = new Request(base, { headers: { k2: 'v2' } });
    eq('from Request keeps method', derived.method, 'PUT');
    eq('from Request overrides headers', [...derived.headers], [['k2', 'v2']]);
    eq('from Request takes body', await derived.text(), 'b');
    eq('source body used', base.bodyUsed, true);
    const form = new Request('https://a.com', { method: 'POST', body: new URLSearchParams({ a: 'b c' }) });
    eq('URLSearchParams body type', form.headers.get('content-type'), 'application/x-www-form-urlencoded;charset=UTF-8');
    eq('URLSearchParams body', await form.text(), 'a=b+c');
    const bin = new Request('https://a.com', { method: 'POST', body: new Uint8Array([1, 2, 3]) });
    eq('bytes body no content-type', bin.headers.get('content-type'), null);
    eq('bytes()', [...await bin.bytes()], [1, 2, 3]);
    const jr = new Request('https://a.com', { method: 'POST', body: '{"x":[1]}' });
    eq('json()', await jr.json(), { x: [1] });
    eq('no body text', await new Request('https://a.com').text(), '');
    eq('formData absent', typeof Request.prototype.formData, 'undefined');
    eq('body absent', 'body' in Request.prototype, false);

    // Response
    const res = new Response('hello', { status: 201, statusText: 'Created', headers: { 'x-r': '1' } });
    eq('status', res.status, 201);
    eq('statusText', res.statusText, 'Created');
    eq('ok', res.ok, true);
    eq('type', res.type, 'default');
    eq('url empty', res.url, '');
    eq('redirected', res.redirected, false);
    eq('response text', await res.text(), 'hello');
    eq('default status', new Response().status, 200);
    eq('null body text', await new Response(null).text(), '');
    eq('status 199 RangeError', throwsName(() => new Response('', { status: 199 })), 'RangeError');
    eq('status 600 RangeError', throwsName(() => new Response('', { status: 600 })), 'RangeError');
    eq('204 with body TypeError', throwsName(() => new Response('x', { status: 204 })), 'TypeError');
    eq('204 null body ok', new Response(null, { status: 204 }).status, 204);
    eq('not ok', new Response(null, { status: 404 }).ok, false);
    const j = Response.json({ a: 1 }, { status: 202 });
    eq('Response.json status', j.status, 202);
    eq('Response.json content-type', j.headers.get('content-type'), 'application/json');
    eq('Response.json body', await j.json(), { a: 1 });
    eq('Response.json keeps given content-type', Response.json(1, { headers: { 'content-type': 'application/vnd+json' } }).headers.get('content-type'), 'application/vnd+json');
    eq('Response.json undefined', throwsName(() => Response.json(undefined)), 'TypeError');
    const rd = Response.redirect('https://b.com/x', 301);
    eq('redirect status', rd.status, 301);
    eq('redirect location', rd.headers.get('location'), 'https://b.com/x');
    eq('redirect bad status', throwsName(() => Response.redirect('https://b.com', 200)), 'RangeError');
    eq('redirect headers immutable', throwsName(() => rd.headers.set('a', 'b')), 'TypeError');
    const er = Response.error();
    eq('error type', er.type, 'error');
    eq('error status', er.status, 0);
    const blobRes = new Response(new Blob(['ab'], { type: 'text/x' }));
    eq('Blob body content-type', blobRes.headers.get('content-type'), 'text/x');
    const blob = await blobRes.blob();
    eq('blob() size/type', [blob.size, blob.type], [2, 'text/x']);
    const ab = await new Response('xyz').arrayBuffer();
    eq('arrayBuffer', ab instanceof ArrayBuffer && ab.byteLength, 3);
    const rc = new Response('dup');
    const rc2 = rc.clone();
    eq('response clone', [await rc.text(), await rc2.text()], ['dup', 'dup']);
    eq('response toStringTag', Object.prototype.toString.call(rc), '[object Response]');
    eq('response brand check', throwsName(() => Object.getOwnPropertyDescriptor(Response.prototype, 'status').get.call({})), 'TypeError');

    // fetch without network
    eq('fetch relative url rejects', await rejectsName(fetch('/relative')), 'TypeError');
    eq('fetch aborted signal rejects', await rejectsName(fetch('https://a.com', { signal: AbortSignal.abort() })), 'AbortError');
    eq('fetch custom abort reason', await fetch('https://a.com', { signal: AbortSignal.abort('why') }).catch((e) => e), 'why');
    eq('fetch returns promise for bad input', fetch('::') instanceof Promise, true);
    return new Response(out.join('\n'));
  },
};
