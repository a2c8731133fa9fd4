/* corral web globals, part 2: Event, EventTarget, AbortController, AbortSignal.
 *
 * There is no DOM tree in a worker, so dispatch is the flat case of the DOM
 * Standard: one target, no capture/bubble path. Event state lives in private
 * fields; the few writes EventTarget must make into an Event (target,
 * currentTarget, phase, stop flags) go through closures created in the
 * classes' static blocks, so user code cannot forge them. Listener errors are
 * reported through the console ("Uncaught ...") and never break dispatch,
 * as in browsers and workerd.
 *
 * AbortSignal keeps an internal list of abort algorithms (used by fetch,
 * AbortSignal.any and Request) that run before the 'abort' event fires. */
(function (native, lib, g) {
  'use strict';
  const DOMException = lib.DOMException;

  let evSetDispatch, evGetFlags, evInit;

  class Event {
    #type; #bubbles; #cancelable; #composed; #timeStamp;
    #target = null; #currentTarget = null; #phase = 0;
    #canceled = false; #stop = false; #stopImmediate = false;
    #dispatching = false; #inPassive = false;
    constructor(type, eventInitDict = undefined) {
      if (arguments.length === 0) throw new TypeError("Failed to construct 'Event': 1 argument required, but only 0 present.");
      const init = eventInitDict == null ? {} : eventInitDict;
      if (typeof init !== 'object' && typeof init !== 'function') throw new TypeError("Failed to construct 'Event': The provided value is not of type 'EventInit'.");
      this.#type = String(type);
      this.#bubbles = !!init.bubbles;
      this.#cancelable = !!init.cancelable;
      this.#composed = !!init.composed;
      this.#timeStamp = native.now();
    }
    get type() { return this.#type; }
    get target() { return this.#target; }
    get srcElement() { return this.#target; }
    get currentTarget() { return this.#currentTarget; }
    get eventPhase() { return this.#phase; }
    get bubbles() { return this.#bubbles; }
    get cancelable() { return this.#cancelable; }
    get composed() { return this.#composed; }
    get defaultPrevented() { return this.#canceled; }
    get isTrusted() { return false; }
    get timeStamp() { return this.#timeStamp; }
    get returnValue() { return !this.#canceled; }
    set returnValue(v) { if (!v && this.#cancelable && !this.#inPassive) this.#canceled = true; }
    get cancelBubble() { return this.#stop; }
    set cancelBubble(v) { if (v) this.#stop = true; }
    composedPath() { return this.#dispatching && this.#currentTarget ? [this.#currentTarget] : []; }
    preventDefault() { if (this.#cancelable && !this.#inPassive) this.#canceled = true; }
    stopPropagation() { this.#stop = true; }
    stopImmediatePropagation() { this.#stop = true; this.#stopImmediate = true; }
    static {
      evSetDispatch = (ev, target, phase, passive) => {
        if (phase === 2) { ev.#dispatching = true; ev.#target = target; }
        ev.#currentTarget = target; ev.#phase = phase; ev.#inPassive = passive;
        if (phase === 0) { ev.#dispatching = false; ev.#stop = false; ev.#stopImmediate = false; }
      };
      evGetFlags = (ev) => (ev.#dispatching ? 1 : 0) | (ev.#stopImmediate ? 2 : 0) | (ev.#canceled ? 4 : 0);
      evInit = (ev) => #type in ev;
    }
  }
  for (const [k, v] of [['NONE', 0], ['CAPTURING_PHASE', 1], ['AT_TARGET', 2], ['BUBBLING_PHASE', 3]]) {
    Object.defineProperty(Event, k, { value: v, enumerable: true });
    Object.defineProperty(Event.prototype, k, { value: v, enumerable: true });
  }
  lib.tag(Event, 'Event');

  function reportListenerError(e) {
    /* The console part loads on first use; only this path needs it here. */
    try { lib.use('console'); lib.reportError(e); } catch (_) { /* reporting must never throw into dispatch */ }
  }

  /* Listener records: { type, callback, capture, once, passive, removed }. */
  let etAddRaw;
  class EventTarget {
    #listeners = new Map();
    #handlers = null;
    constructor() {}
    addEventListener(type, callback, options = undefined) {
      if (arguments.length < 2) throw new TypeError("Failed to execute 'addEventListener' on 'EventTarget': 2 arguments required.");
      this.#add(String(type), callback, options);
    }
    #add(type, callback, options) {
      if (callback == null) return;
      if (typeof callback !== 'function' && typeof callback !== 'object') throw new TypeError("The 'listener' argument must be a function or an object with handleEvent.");
      let capture = false, once = false, passive = false, signal = null;
      if (typeof options === 'boolean') capture = options;
      else if (options != null && typeof options === 'object') {
        capture = !!options.capture; once = !!options.once; passive = !!options.passive;
        if (options.signal !== undefined) {
          signal = options.signal;
          if (!(signal instanceof AbortSignal)) throw new TypeError("The 'signal' option must be an AbortSignal.");
        }
      }
      if (signal && signal.aborted) return;
      let list = this.#listeners.get(type);
      if (!list) { list = []; this.#listeners.set(type, list); }
      for (const l of list) if (l.callback === callback && l.capture === capture) return;
      const rec = { callback, capture, once, passive, removed: false };
      list.push(rec);
      if (signal) signalAddAlgorithm(signal, () => this.#remove(type, rec));
    }
    #remove(type, rec) {
      rec.removed = true;
      const list = this.#listeners.get(type);
      if (!list) return;
      const i = list.indexOf(rec);
      if (i >= 0) list.splice(i, 1);
    }
    removeEventListener(type, callback, options = undefined) {
      if (arguments.length < 2) throw new TypeError("Failed to execute 'removeEventListener' on 'EventTarget': 2 arguments required.");
      const capture = typeof options === 'boolean' ? options : !!(options && typeof options === 'object' && options.capture);
      const list = this.#listeners.get(String(type));
      if (!list) return;
      for (const l of list) if (l.callback === callback && l.capture === capture) { this.#remove(String(type), l); return; }
    }
    dispatchEvent(event) {
      if (!(event != null && evInit(event))) throw new TypeError("Failed to execute 'dispatchEvent' on 'EventTarget': parameter 1 is not of type 'Event'.");
      if (evGetFlags(event) & 1) throw new DOMException('The event is already being dispatched.', 'InvalidStateError');
      evSetDispatch(event, this, 2, false);
      const list = this.#listeners.get(event.type);
      if (list) {
        /* Listeners added during dispatch do not run; removed ones do not either. */
        for (const l of list.slice()) {
          if (l.removed) continue;
          if (l.once) this.#remove(event.type, l);
          evSetDispatch(event, this, 2, l.passive);
          try {
            if (typeof l.callback === 'function') l.callback.call(this, event);
            else {
              const h = l.callback.handleEvent;
              if (typeof h !== 'function') throw new TypeError("'handleEvent' is not a function");
              h.call(l.callback, event);
            }
          } catch (e) { reportListenerError(e); }
          if (evGetFlags(event) & 2) break;
        }
      }
      evSetDispatch(event, null, 0, false);
      return !(evGetFlags(event) & 4);
    }
    static {
      /* Event handler attributes (onabort): the handler occupies one listener
       * slot, registered when first set, as the HTML Standard specifies. */
      etAddRaw = (t, type, value) => {
        if (!t.#handlers) t.#handlers = new Map();
        let slot = t.#handlers.get(type);
        if (!slot) {
          slot = { value: null };
          t.#handlers.set(type, slot);
          t.#add(type, function (ev) {
            const h = slot.value;
            if (typeof h !== 'function') return;
            const r = h.call(this, ev);
            if (r === false) ev.preventDefault();
          }, undefined);
        }
        slot.value = typeof value === 'function' || (value && typeof value === 'object') ? value : null;
      };
      lib.getHandler = (t, type) => { const s = t.#handlers && t.#handlers.get(type); return s ? s.value : null; };
    }
  }
  lib.tag(EventTarget, 'EventTarget');

  /* ---- AbortSignal ------------------------------------------------------ */
  let signalAddAlgorithm, signalDoAbort;
  class AbortSignal extends EventTarget {
    #aborted = false; #reason = undefined; #algorithms = [];
    constructor(token = undefined) {
      if (token !== lib.token) throw new TypeError('Illegal constructor');
      super();
    }
    get aborted() { return this.#aborted; }
    get reason() { return this.#reason; }
    throwIfAborted() { if (this.#aborted) throw this.#reason; }
    get onabort() { return lib.getHandler(this, 'abort'); }
    set onabort(v) { etAddRaw(this, 'abort', v); }
    static abort(reason = undefined) {
      const s = new AbortSignal(lib.token);
      s.#aborted = true;
      s.#reason = reason === undefined ? new DOMException('signal is aborted without reason', 'AbortError') : reason;
      return s;
    }
    static timeout(ms) {
      if (arguments.length === 0) throw new TypeError("Failed to execute 'timeout' on 'AbortSignal': 1 argument required, but only 0 present.");
      const n = Number(ms);
      if (!Number.isFinite(n) || n < 0 || n > Number.MAX_SAFE_INTEGER) throw new TypeError('AbortSignal.timeout: milliseconds must be a non-negative finite number.');
      const s = new AbortSignal(lib.token);
      native.setTimer(() => signalDoAbort(s, new DOMException('signal timed out', 'TimeoutError')), Math.trunc(n), false);
      return s;
    }
    static any(signals) {
      if (signals == null || typeof signals[Symbol.iterator] !== 'function') throw new TypeError('AbortSignal.any: argument must be an iterable of AbortSignal.');
      const list = [];
      for (const s of signals) {
        if (!(s instanceof AbortSignal)) throw new TypeError('AbortSignal.any: every element must be an AbortSignal.');
        list.push(s);
      }
      const out = new AbortSignal(lib.token);
      for (const s of list) if (s.#aborted) { out.#aborted = true; out.#reason = s.#reason; return out; }
      for (const s of list) s.#algorithms.push(() => signalDoAbort(out, s.#reason));
      return out;
    }
    static {
      signalAddAlgorithm = (s, fn) => { if (!s.#aborted) s.#algorithms.push(fn); };
      signalDoAbort = (s, reason) => {
        if (s.#aborted) return;
        s.#aborted = true;
        s.#reason = reason === undefined ? new DOMException('signal is aborted without reason', 'AbortError') : reason;
        const algs = s.#algorithms; s.#algorithms = [];
        for (const fn of algs) { try { fn(); } catch (e) { reportListenerError(e); } }
        s.dispatchEvent(new Event('abort'));
      };
      lib.isAborted = (s) => s.#aborted;
    }
  }
  lib.tag(AbortSignal, 'AbortSignal');
  lib.signalAddAlgorithm = (s, fn) => signalAddAlgorithm(s, fn);
  lib.newSignal = () => new AbortSignal(lib.token);
  lib.inspectHooks.set(AbortSignal.prototype, (s) => ({ aborted: s.aborted, reason: s.reason }));

  class AbortController {
    #signal = new AbortSignal(lib.token);
    constructor() {}
    get signal() { return this.#signal; }
    abort(reason = undefined) { signalDoAbort(this.#signal, reason); }
  }
  lib.tag(AbortController, 'AbortController');
  lib.inspectHooks.set(AbortController.prototype, (c) => ({ signal: c.signal }));

  lib.AbortSignal = AbortSignal;
  lib.Event = Event;
  lib.define('Event', Event);
  lib.define('EventTarget', EventTarget);
  lib.define('AbortSignal', AbortSignal);
  lib.define('AbortController', AbortController);
})
