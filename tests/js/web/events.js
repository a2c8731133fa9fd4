// Event, EventTarget, AbortController, AbortSignal and DOMException.
const out = [];
function eq(name, actual, expected) {
  const a = JSON.stringify(actual), e = JSON.stringify(expected);
  out.push((a === e ? 'ok ' : 'FAIL ') + name + (a === e ? '' : ` got ${a} want ${e}`));
}
function throwsName(fn) { try { fn(); return 'no throw'; } catch (e) { return e.name; } }

export default {
  async fetch() {
    const t = new EventTarget();
    const log = [];
    const l1 = (e) => log.push('l1:' + e.type + ':' + (e.target === t) + ':' + (e.currentTarget === t));
    t.addEventListener('x', l1);
    t.addEventListener('x', l1); // duplicate ignored
    t.addEventListener('x', () => log.push('once'), { once: true });
    t.addEventListener('x', { handleEvent(e) { log.push('obj:' + (this !== t)); } });
    t.dispatchEvent(new Event('x'));
    t.dispatchEvent(new Event('x'));
    eq('listeners, once, handleEvent', log, ['l1:x:true:true', 'once', 'obj:true', 'l1:x:true:true', 'obj:true']);
    t.removeEventListener('x', l1);
    log.length = 0; t.dispatchEvent(new Event('x'));
    eq('removeEventListener', log, ['obj:true']);

    const t2 = new EventTarget();
    const order = [];
    t2.addEventListener('y', (e) => { order.push('a'); e.stopImmediatePropagation(); });
    t2.addEventListener('y', () => order.push('b'));
    t2.dispatchEvent(new Event('y'));
    eq('stopImmediatePropagation', order, ['a']);

    const t3 = new EventTarget();
    t3.addEventListener('z', (e) => e.preventDefault());
    eq('preventDefault non-cancelable', t3.dispatchEvent(new Event('z')), true);
    const ev = new Event('z', { cancelable: true });
    eq('preventDefault cancelable', t3.dispatchEvent(ev), false);
    eq('defaultPrevented', ev.defaultPrevented, true);
    eq('after dispatch currentTarget', ev.currentTarget, null);
    eq('after dispatch target', ev.target === t3, true);
    eq('event init', [ev.type, ev.bubbles, ev.cancelable, ev.eventPhase, ev.isTrusted], ['z', false, true, 0, false]);

    const ac0 = new AbortController();
    const t4 = new EventTarget();
    let hits = 0;
    t4.addEventListener('w', () => hits++, { signal: ac0.signal });
    t4.dispatchEvent(new Event('w'));
    ac0.abort();
    t4.dispatchEvent(new Event('w'));
    eq('listener removed by signal', hits, 1);

    eq('Event needs type', throwsName(() => new Event()), 'TypeError');
    eq('dispatch non-event', throwsName(() => t.dispatchEvent({ type: 'x' })), 'TypeError');

    // AbortController / AbortSignal
    const ac = new AbortController();
    const seen = [];
    ac.signal.onabort = (e) => seen.push('onabort:' + e.type);
    ac.signal.addEventListener('abort', () => seen.push('listener:' + ac.signal.aborted));
    eq('not aborted', ac.signal.aborted, false);
    ac.abort();
    ac.abort('again'); // second abort is a no-op
    eq('abort events once', seen, ['onabort:abort', 'listener:true']);
    eq('default reason', [ac.signal.reason.name, ac.signal.reason.message, ac.signal.reason instanceof DOMException], ['AbortError', 'signal is aborted without reason', true]);
    eq('throwIfAborted', throwsName(() => ac.signal.throwIfAborted()), 'AbortError');
    const ac2 = new AbortController(); ac2.abort(42);
    eq('custom reason', ac2.signal.reason, 42);
    eq('AbortSignal.abort()', AbortSignal.abort().aborted, true);
    eq('AbortSignal.abort(reason)', AbortSignal.abort('r').reason, 'r');
    eq('AbortSignal constructor illegal', throwsName(() => new AbortSignal()), 'TypeError');
    const a = new AbortController(), b = new AbortController();
    const any = AbortSignal.any([a.signal, b.signal]);
    let anyFired = 0; any.addEventListener('abort', () => anyFired++);
    b.abort('bee');
    eq('AbortSignal.any follows', [any.aborted, any.reason, anyFired], [true, 'bee', 1]);
    eq('AbortSignal.any already aborted', AbortSignal.any([AbortSignal.abort('x')]).reason, 'x');
    const ts = AbortSignal.timeout(5);
    await new Promise((resolve) => ts.addEventListener('abort', resolve));
    eq('AbortSignal.timeout', [ts.aborted, ts.reason.name, ts.reason.code], [true, 'TimeoutError', 23]);
    eq('signal is EventTarget', ac.signal instanceof EventTarget, true);
    eq('signal toStringTag', Object.prototype.toString.call(ac.signal), '[object AbortSignal]');

    // DOMException
    const d = new DOMException('msg', 'NotFoundError');
    eq('DOMException fields', [d.name, d.message, d.code], ['NotFoundError', 'msg', 8]);
    eq('DOMException instanceof Error', d instanceof Error, true);
    eq('DOMException toString', String(d), 'NotFoundError: msg');
    eq('DOMException defaults', [new DOMException().name, new DOMException().message, new DOMException().code], ['Error', '', 0]);
    eq('DOMException options object', new DOMException('m', { name: 'DataCloneError' }).code, 25);
    eq('DOMException codes', ['IndexSizeError', 'SyntaxError', 'InvalidStateError', 'QuotaExceededError', 'TypeMismatchError', 'InvalidCharacterError'].map((n) => new DOMException('', n).code), [1, 12, 11, 22, 17, 5]);
    eq('DOMException has stack', typeof d.stack, 'string');
    eq('DOMException toStringTag', Object.prototype.toString.call(d), '[object DOMException]');
    return new Response(out.join('\n'));
  },
};
