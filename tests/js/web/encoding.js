// TextEncoder, TextDecoder (UTF-8 only), atob and btoa.
const out = [];
function eq(name, actual, expected) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  out.push((a === e ? 'ok ' : 'FAIL ') + name + (a === e ? '' : ` got ${a} want ${e}`));
}
function throwsName(fn) { try { fn(); return 'no throw'; } catch (e) { return e.name; } }
const te = new TextEncoder();
eq('encoding', te.encoding, 'utf-8');
eq('encode ascii+2+3+4 bytes', [...te.encode('aé€😀')], [97, 195, 169, 226, 130, 172, 240, 159, 152, 128]);
eq('encode lone surrogate', [...te.encode('\uD800')], [239, 191, 189]);
eq('encode default', te.encode().length, 0);
eq('encode returns Uint8Array', te.encode('x') instanceof Uint8Array, true);
const dst = new Uint8Array(4);
eq('encodeInto partial stops at code point', te.encodeInto('ab€d', dst), { read: 2, written: 2 });
eq('encodeInto fits', te.encodeInto('a€', new Uint8Array(8)), { read: 2, written: 4 });
eq('encodeInto surrogate pair', te.encodeInto('😀', new Uint8Array(4)), { read: 2, written: 4 });
const td = new TextDecoder();
eq('decoder encoding', td.encoding, 'utf-8');
eq('decode', td.decode(new Uint8Array([104, 195, 169])), 'hé');
eq('decode strips BOM', td.decode(new Uint8Array([0xEF, 0xBB, 0xBF, 104])), 'h');
eq('ignoreBOM keeps BOM', new TextDecoder('utf-8', { ignoreBOM: true }).decode(new Uint8Array([0xEF, 0xBB, 0xBF, 104])), '\uFEFFh');
eq('decode invalid -> U+FFFD', td.decode(new Uint8Array([0xFF, 104])), '\uFFFDh');
eq('decode ArrayBuffer', td.decode(new Uint8Array([65, 66]).buffer), 'AB');
eq('decode DataView', td.decode(new DataView(new Uint8Array([65, 66, 67]).buffer, 1)), 'BC');
eq('decode undefined', td.decode(), '');
eq('fatal throws TypeError', throwsName(() => new TextDecoder('utf-8', { fatal: true }).decode(new Uint8Array([0xC3]))), 'TypeError');
eq('fatal flag', new TextDecoder('utf8', { fatal: true }).fatal, true);
eq('label with whitespace and case', new TextDecoder(' UTF8 ').encoding, 'utf-8');
eq('unicode-1-1-utf-8 label', new TextDecoder('unicode-1-1-utf-8').encoding, 'utf-8');
eq('other label RangeError', throwsName(() => new TextDecoder('latin1')), 'RangeError');
const sd = new TextDecoder();
const euro = [0xE2, 0x82, 0xAC];
let s = sd.decode(new Uint8Array([0x61, euro[0]]), { stream: true });
s += sd.decode(new Uint8Array([euro[1]]), { stream: true });
s += sd.decode(new Uint8Array([euro[2], 0x62]), { stream: true });
s += sd.decode();
eq('stream split sequence', s, 'a€b');
const sb = new TextDecoder();
eq('stream split BOM', sb.decode(new Uint8Array([0xEF]), { stream: true }) + sb.decode(new Uint8Array([0xBB, 0xBF, 0x41])), 'A');
const se = new TextDecoder();
eq('stream end with incomplete', se.decode(new Uint8Array([0x61, 0xE2]), { stream: true }) + se.decode(), 'a\uFFFD');
eq('btoa', btoa('hello'), 'aGVsbG8=');
eq('btoa binary', btoa('\x00\xff\xfe'), 'AP/+');
eq('btoa empty', btoa(''), '');
eq('btoa non-latin1', throwsName(() => btoa('€')), 'InvalidCharacterError');
eq('atob', atob('aGVsbG8='), 'hello');
eq('atob no padding', atob('aGVsbG8'), 'hello');
eq('atob whitespace', atob(' aGVs\nbG8= '), 'hello');
eq('atob binary', [...atob('AP/+')].map((c) => c.charCodeAt(0)), [0, 255, 254]);
eq('atob bad length', throwsName(() => atob('abcde')), 'InvalidCharacterError');
eq('atob bad char', throwsName(() => atob('ab$c')), 'InvalidCharacterError');
eq('atob bad padding', throwsName(() => atob('a===')), 'InvalidCharacterError');
eq('atob error is DOMException', (() => { try { atob('*'); } catch (e) { return e instanceof DOMException && e.code === 5; } })(), true);
eq('roundtrip', atob(btoa('\x01\x02\x03\x04\x05')), '\x01\x02\x03\x04\x05');

export default {
  async fetch() { return new Response(out.join('\n')); },
};
