// console formatting: exact output lines, checked on stderr.
class Foo { constructor() { this.x = 1; } get y() { return 2; } }
class Bar extends Foo {}
export default {
  async fetch() {
    console.log('plain string', 42, -0, 1n, true, null, undefined, Symbol('s'));
    console.log({ a: 1, b: 'x' }, [1, 2, 3], [], {});
    console.log(new Map([['a', 1]]), new Set([1, 2]), new Map(), new Set());
    console.log(function foo() {}, () => {}, class X {}, Bar, async function af() {}, function* gen() {});
    console.log(new Foo(), new Bar(), Object.create(null), Object.assign(Object.create(null), { k: 1 }));
    console.log(['nested', 'it\'s', 'a\nb'], { 'a-b': 1, [Symbol('k')]: 2, get g() { return 1; }, set s(v) {} });
    console.log([, 1, , , 2], new Array(3));
    const circ = { name: 'c' }; circ.self = circ; circ.list = [circ];
    console.log(circ);
    console.log({ a: { b: { c: { d: { e: { f: 1 } } } } } });
    console.log({ a: [[[[[1]]]]] });
    console.log(Array.from({ length: 26 }, (_, i) => i));
    console.log(Array.from({ length: 101 }, () => 0).length, Array.from({ length: 103 }, (_, i) => i % 2 ? 'odd' : 'even').slice(100));
    console.log(new Uint8Array([1, 2, 3]), new Float64Array(0), new ArrayBuffer(3));
    console.log(new Date(0), new Date(NaN), /re+/gi);
    console.log(new Number(3), new String('s'), new Boolean(false));
    const e = new RangeError('bad range'); e.stack = '';
    console.log(e, { err: e });
    const e2 = new Error('with stack'); e2.stack = '    at f (file.js:1:1)';
    console.log(e2);
    const e3 = new Error('outer', { cause: e }); e3.stack = ''; e3.code = 'E_OUTER';
    console.log(e3);
    console.log({ longKeyNumberOne: 'aaaaaaaaaaaaaaaaaaaa', longKeyNumberTwo: 'bbbbbbbbbbbbbbbbbbbbbbb', third: [1, 2, 3] });
    console.log('%s is %d years, %i, %f, %j, %o, %O %c|%% %x', 'Bob', 42.5, 42.9, '1.5', { a: [1] }, [1], { b: 2 }, 'color: red');
    console.log('%s %s', 'only one');
    console.log('%d', 5n, 'extra', { z: 1 });
    console.info('info'); console.debug('debug'); console.warn('warn'); console.error('error');
    console.assert(true, 'not printed'); console.assert(false, 'printed %s', 'x'); console.assert(false);
    console.dir('quoted'); console.dir({ a: { b: { c: 1 } } }, { depth: 0 });
    console.count(); console.count(); console.count('k'); console.countReset(); console.count();
    console.group('Group'); console.log('inside'); console.group(); console.log('deeper\nlines'); console.groupEnd(); console.groupEnd(); console.log('outside');
    console.table([{ a: 1, b: 'x' }, { a: 2, c: true }]);
    console.table(['p', 'q']);
    console.trace('here');
    console.timeEnd('missing');
    const hostile = new Proxy({}, { ownKeys() { throw new Error('trap'); }, getPrototypeOf() { throw new Error('trap'); } });
    console.log('proxy:', hostile);
    console.log(new URL('https://a.com/p?q=1'));
    console.log(new Headers({ b: '2', a: '1' }), new URLSearchParams('x=1&x=2'));
    console.log(new Response('x', { status: 201 }));
    console.log(new Blob(['abc'], { type: 'text/plain' }), AbortSignal.abort('r'));
    console.log(new DOMException('gone', 'NotFoundError').name);
    const log = console.log; log('unbound ok');
    return new Response('done');
  },
};
