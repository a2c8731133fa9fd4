// URL parsing per the WHATWG URL Standard: a spread of edge cases whose
// results are fixed by the standard (and by WPT's urltestdata).
const out = [];
function eq(name, actual, expected) {
  out.push((actual === expected ? 'ok ' : 'FAIL ') + name + (actual === expected ? '' : ` got ${JSON.stringify(actual)} want ${JSON.stringify(expected)}`));
}
function href(input, base) {
  try { return new URL(input, base).href; } catch (e) { return e instanceof TypeError ? 'TypeError: ' + e.message : 'other error'; }
}
const cases = [
  ['http://EXAMPLE.com:80/a/./b/../c?x=1#f', undefined, 'http://example.com/a/c?x=1#f'],
  ['https://a.com:443', undefined, 'https://a.com/'],
  ['HTTP://a.com:8080/%2e/x/%2E%2e/y', undefined, 'http://a.com:8080/y'],
  ['http://0x7f.1/', undefined, 'http://127.0.0.1/'],
  ['http://0300.0250.1.1', undefined, 'http://192.168.1.1/'],
  ['http://4294967295', undefined, 'http://255.255.255.255/'],
  ['http://1.2.3.4.', undefined, 'http://1.2.3.4/'],
  ['http://4294967296', undefined, 'TypeError: Invalid URL: http://4294967296'],
  ['http://1.2.3.4.5', undefined, 'TypeError: Invalid URL: http://1.2.3.4.5'],
  ['http://1.2.3.09', undefined, 'TypeError: Invalid URL: http://1.2.3.09'],
  ['http://foo.09', undefined, 'TypeError: Invalid URL: http://foo.09'],
  ['http://[::1]:3000/', undefined, 'http://[::1]:3000/'],
  ['http://[1:0:0:0:0:0:0:1]', undefined, 'http://[1::1]/'],
  ['http://[0:0:1:0:0:0:0:0]', undefined, 'http://[0:0:1::]/'],
  ['http://[1:0:0:2:0:0:0:3]', undefined, 'http://[1:0:0:2::3]/'],
  ['http://[::ffff:192.168.0.1]', undefined, 'http://[::ffff:c0a8:1]/'],
  ['http://[1:2:3:4:5:6:7:8:9]', undefined, 'TypeError: Invalid URL: http://[1:2:3:4:5:6:7:8:9]'],
  ['http://[::1', undefined, 'TypeError: Invalid URL: http://[::1'],
  ['http://münchen.de/', undefined, 'http://xn--mnchen-3ya.de/'],
  ['http://☃.net/', undefined, 'http://xn--n3h.net/'],
  ['http://ＡＢＣ.com', undefined, 'http://abc.com/'],
  ['http://%41.com', undefined, 'http://a.com/'],
  ['http://a b.com', undefined, 'TypeError: Invalid URL: http://a b.com'],
  ['http://a%20b.com', undefined, 'TypeError: Invalid URL: http://a%20b.com'],
  ['http:\\\\a.com\\b\\c', undefined, 'http://a.com/b/c'],
  ['\\\\server\\share', 'http://x/', 'http://server/share'],
  ['//b/c', 'https://a/x', 'https://b/c'],
  ['../d', 'http://a/b/c/e', 'http://a/b/d'],
  ['../../../../d', 'http://a/b/c', 'http://a/d'],
  ['?q', 'http://a/b?x#y', 'http://a/b?q'],
  ['#h', 'http://a/b?x#y', 'http://a/b?x#h'],
  ['', 'http://a/b?x#y', 'http://a/b?x'],
  ['https:x', 'https://a/b/c', 'https://a/b/x'],
  ['mailto:Joe@Example.COM', undefined, 'mailto:Joe@Example.COM'],
  ['data:text/plain,hi there', undefined, 'data:text/plain,hi there'],
  ['foo://Host/Path', undefined, 'foo://Host/Path'],
  ['foo:/a/../b', undefined, 'foo:/b'],
  ['foo://', undefined, 'foo://'],
  ['foo:/.//p', undefined, 'foo:/.//p'],
  ['#frag', 'mailto:x', 'mailto:x#frag'],
  ['rel', 'mailto:x', 'TypeError: Invalid URL: rel'],
  ['file:///C:/x/../../y', undefined, 'file:///C:/y'],
  ['file://localhost/etc', undefined, 'file:///etc'],
  ['file:c:\\foo\\bar', undefined, 'file:///c:/foo/bar'],
  ['/x', 'file:///C:/a/b', 'file:///C:/x'],
  ['file://host/share', undefined, 'file://host/share'],
  ['http://user:p@ss@a.com/', undefined, 'http://user:p%40ss@a.com/'],
  ['http://u s:p:w@a.com', undefined, 'http://u%20s:p%3Aw@a.com/'],
  ['http://@a.com', undefined, 'http://a.com/'],
  ['http://:@a.com', undefined, 'http://a.com/'],
  ['http://a.com:65536', undefined, 'TypeError: Invalid URL: http://a.com:65536'],
  ['http://a.com:0x1', undefined, 'TypeError: Invalid URL: http://a.com:0x1'],
  ['http://a.com:0080/', undefined, 'http://a.com/'],
  ['https://a.com/ä?ä=ä#ä', undefined, 'https://a.com/%C3%A4?%C3%A4=%C3%A4#%C3%A4'],
  ['http://a.com/ {}`"<>', undefined, 'http://a.com/%20%7B%7D%60%22%3C%3E'],
  ['http://a.com/?q=\'"<>', undefined, 'http://a.com/?q=%27%22%3C%3E'],
  ['sc://a.com/?q=\'"', undefined, "sc://a.com/?q='%22"],
  ['http://a.com/#\'" <>`', undefined, "http://a.com/#'%22%20%3C%3E%60"],
  ['  http://a.com/\t\n x  ', undefined, 'http://a.com/%20x'],
  ['http://a.com/\uD800', undefined, 'http://a.com/%EF%BF%BD'],
  ['relative', undefined, 'TypeError: Invalid URL: relative'],
  ['', undefined, 'TypeError: Invalid URL: '],
  ['http://', undefined, 'TypeError: Invalid URL: http://'],
  ['http://a.com./', undefined, 'http://a.com./'],
  ['ws://a.com:80/', undefined, 'ws://a.com/'],
  ['wss://a.com:443', undefined, 'wss://a.com/'],
  ['ftp://a.com:21/x', undefined, 'ftp://a.com/x'],
  ['non-spec:/.//', undefined, 'non-spec:/.//'],
];
for (const [input, base, want] of cases) eq(`parse ${JSON.stringify(input)}${base ? ' @ ' + base : ''}`, href(input, base), want);

const u = new URL('https://user:pw@a.com:8080/p?x=1&y=2#h');
eq('origin', u.origin, 'https://a.com:8080');
eq('protocol', u.protocol, 'https:');
eq('username', u.username, 'user');
eq('password', u.password, 'pw');
eq('host', u.host, 'a.com:8080');
eq('hostname', u.hostname, 'a.com');
eq('port', u.port, '8080');
eq('pathname', u.pathname, '/p');
eq('search', u.search, '?x=1&y=2');
eq('hash', u.hash, '#h');
u.protocol = 'http'; eq('set protocol', u.href, 'http://user:pw@a.com:8080/p?x=1&y=2#h');
u.protocol = 'foo'; eq('set protocol special->non-special ignored', u.protocol, 'http:');
u.port = '80'; eq('set default port', u.host, 'a.com');
u.port = '99abc'; eq('set port digits prefix', u.port, '99');
u.port = 'abc'; eq('set port non-digit ignored', u.port, '99');
u.hostname = 'B.com'; eq('set hostname', u.host, 'b.com:99');
u.host = 'c.com:100'; eq('set host', u.host, 'c.com:100');
u.pathname = '/q r/../s'; eq('set pathname', u.pathname, '/s');
u.hash = 'z'; eq('set hash', u.hash, '#z');
u.search = '?a=b c'; eq('set search', u.search, '?a=b%20c');
eq('searchParams after set search', u.searchParams.get('a'), 'b c');
u.searchParams.append('k', 'v w'); eq('searchParams live', u.search, '?a=b+c&k=v+w');
u.username = 'x@y'; eq('set username', u.username, 'x%40y');
u.password = ''; eq('clear password', u.href, 'http://x%40y@c.com:100/s?a=b+c&k=v+w#z');
u.searchParams.delete('a'); u.searchParams.delete('k'); eq('empty searchParams clears query', u.href, 'http://x%40y@c.com:100/s#z');
u.hash = ''; eq('clear hash', u.href, 'http://x%40y@c.com:100/s');
u.href = 'https://d.com/?n=1'; eq('set href updates searchParams', u.searchParams.get('n'), '1');
let threw = false; try { u.href = 'nope'; } catch (e) { threw = e instanceof TypeError; }
eq('set invalid href throws', threw, true);
eq('URL.canParse relative with base', URL.canParse('x', 'http://a'), true);
eq('URL.canParse relative no base', URL.canParse('x'), false);
eq('URL.parse failure', URL.parse('nope'), null);
eq('URL.parse ok', URL.parse('/p', 'http://a/b').href, 'http://a/p');
eq('toJSON', JSON.stringify({ u: new URL('http://a/') }), '{"u":"http://a/"}');
eq('toString', String(new URL('http://a')), 'http://a/');
eq('blob origin', new URL('blob:https://a.com/uuid').origin, 'https://a.com');
eq('opaque origin', new URL('data:x').origin, 'null');
eq('file origin', new URL('file:///x').origin, 'null');
eq('mailto pathname', new URL('mailto:a@b').pathname, 'a@b');
eq('toStringTag', Object.prototype.toString.call(new URL('http://a')), '[object URL]');
threw = false; try { URL.prototype.href; } catch (e) { threw = e instanceof TypeError; }
eq('brand check', threw, true);

export default {
  async fetch() { return new Response(out.join('\n')); },
};
