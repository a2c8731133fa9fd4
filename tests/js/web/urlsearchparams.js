// URLSearchParams: parsing, serialisation (application/x-www-form-urlencoded)
// and the mutation methods.
const out = [];
function eq(name, actual, expected) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  out.push((a === e ? 'ok ' : 'FAIL ') + name + (a === e ? '' : ` got ${a} want ${e}`));
}
const sp = new URLSearchParams('?a=1&b=2&a=3&c=%20x+y&d&&=e');
eq('getAll', sp.getAll('a'), ['1', '3']);
eq('get decodes + and %20', sp.get('c'), ' x y');
eq('get missing', sp.get('zz'), null);
eq('has', sp.has('d'), true);
eq('has name value', sp.has('a', '3'), true);
eq('has name wrong value', sp.has('a', '4'), false);
eq('size', sp.size, 6);
eq('empty name', sp.get(''), 'e');
eq('toString', String(sp), 'a=1&b=2&a=3&c=+x+y&d=&=e');
sp.set('a', '9'); eq('set replaces first, removes rest', String(sp), 'a=9&b=2&c=+x+y&d=&=e');
sp.delete('b'); eq('delete', String(sp), 'a=9&c=+x+y&d=&=e');
sp.append('a', '0'); sp.delete('a', '9'); eq('delete name value', String(sp), 'c=+x+y&d=&=e&a=0');
sp.sort(); eq('sort', [...sp.keys()], ['', 'a', 'c', 'd']);
const st = new URLSearchParams('z=1&a=2&z=0&a=1'); st.sort(); eq('sort is stable', String(st), 'a=2&a=1&z=1&z=0');
eq('record init', String(new URLSearchParams({ x: '1', 'y z': '*-._~!\'()é' })), 'x=1&y+z=*-._%7E%21%27%28%29%C3%A9');
eq('pairs init', String(new URLSearchParams([['a', 'b'], ['c', 'd']])), 'a=b&c=d');
eq('copy init', String(new URLSearchParams(new URLSearchParams('q=1'))), 'q=1');
let threw = ''; try { new URLSearchParams([['a']]); } catch (e) { threw = e.name; }
eq('bad pair throws', threw, 'TypeError');
eq('entries', [...new URLSearchParams('a=1&b=2')], [['a', '1'], ['b', '2']]);
eq('values', [...new URLSearchParams('a=1&b=2').values()], ['1', '2']);
const seen = []; new URLSearchParams('a=1&b=2').forEach((v, k) => seen.push(k + v)); eq('forEach', seen, ['a1', 'b2']);
eq('invalid percent kept', new URLSearchParams('a=%zz%4').get('a'), '%zz%4');
eq('utf8 decode', new URLSearchParams('a=%E2%82%AC').get('a'), '€');
eq('invalid utf8 becomes U+FFFD', new URLSearchParams('a=%FF').get('a'), '\uFFFD');
eq('null init', String(new URLSearchParams(null)), 'null=');
eq('iterator toStringTag', Object.prototype.toString.call(new URLSearchParams().entries()), '[object URLSearchParams Iterator]');
eq('toStringTag', Object.prototype.toString.call(new URLSearchParams()), '[object URLSearchParams]');
const u = new URL('http://a/?x=1');
const p = u.searchParams;
eq('searchParams identity', u.searchParams === p, true);
p.set('y', 'a b'); eq('url follows params', u.href, 'http://a/?x=1&y=a+b');
u.search = ''; eq('params follow url', p.size, 0);
threw = ''; try { URLSearchParams.prototype.get.call({}, 'a'); } catch (e) { threw = e.name; }
eq('brand check', threw, 'TypeError');

export default {
  async fetch() { return new Response(out.join('\n')); },
};
