/* corral web globals, part 1: shared helpers and DOMException.
 *
 * The web globals are plain JavaScript compiled to bytecode at build time,
 * one blob per file in js/web/. A sandbox starts with only accessors for
 * them; the first use of a global reads and runs its part (see
 * lib/engine/lazy.c), so each part only defines classes and functions: no
 * tables are built and nothing is computed until first use. Every part is a
 * classic script whose value is its installer, called once with the
 * C-provided `native` object, a private `lib` object the parts share, and
 * the global object. `native` and `lib` stay in closures: no global or
 * user-reachable object ever points at them. The engine provides
 * `lib.define` (a global of the part: non-enumerable, writable, configurable
 * like real web globals) and `lib.use` (load another part first), and loads
 * this part before any other.
 *
 * This part provides what the others lean on: brand-safe iterator
 * prototypes, the inspect hook registry the console uses to print our
 * classes, and DOMException (other parts throw it). */
(function (native, lib, g) {
  'use strict';

  /* Web IDL gives every interface prototype a Symbol.toStringTag. */
  lib.tag = function (C, name) {
    Object.defineProperty(C.prototype, Symbol.toStringTag, { value: name, configurable: true });
  };

  /* Illegal-constructor guard: classes such as AbortSignal can only be made
   * from inside corral, which passes this token. */
  lib.token = Symbol('corral.internal');

  /* Classes the console prints from their state rather than their (private,
   * invisible) fields: prototype -> function(obj) returning a plain object. */
  lib.inspectHooks = new Map();

  /* Iterators in the style of Web IDL pair iterators: `next` on a prototype
   * inheriting %IteratorPrototype%, with a toStringTag like
   * "Headers Iterator". `source(obj)` returns the current array of [k, v]
   * pairs, so iteration stays live as Web IDL requires. */
  const IteratorPrototype = Object.getPrototypeOf(Object.getPrototypeOf([][Symbol.iterator]()));
  lib.makeIteratorFactory = function (tagName, source) {
    const state = new WeakMap();
    const proto = Object.create(IteratorPrototype);
    Object.defineProperty(proto, 'next', {
      value: function next() {
        const st = state.get(this);
        if (!st) throw new TypeError('next called on an object that is not a ' + tagName);
        if (st.done) return { value: undefined, done: true };
        const list = source(st.obj);
        if (st.index >= list.length) { st.done = true; return { value: undefined, done: true }; }
        const pair = list[st.index++];
        const value = st.kind === 0 ? pair[0] : st.kind === 1 ? pair[1] : [pair[0], pair[1]];
        return { value, done: false };
      },
      writable: true, configurable: true,
    });
    Object.defineProperty(proto, Symbol.toStringTag, { value: tagName, configurable: true });
    /* kind: 0 keys, 1 values, 2 entries */
    return function (obj, kind) {
      const it = Object.create(proto);
      state.set(it, { obj, kind, index: 0, done: false });
      return it;
    };
  };

  /* ---- DOMException ------------------------------------------------------
   * Extends Error so `instanceof Error` holds and a stack is captured; name,
   * message and code are prototype getters over private state as in Web IDL,
   * so user code cannot relabel an exception it did not create. */
  const legacyCodes = {
    IndexSizeError: 1, HierarchyRequestError: 3, WrongDocumentError: 4,
    InvalidCharacterError: 5, NoModificationAllowedError: 7, NotFoundError: 8,
    NotSupportedError: 9, InUseAttributeError: 10, InvalidStateError: 11,
    SyntaxError: 12, InvalidModificationError: 13, NamespaceError: 14,
    InvalidAccessError: 15, TypeMismatchError: 17, SecurityError: 18,
    NetworkError: 19, AbortError: 20, URLMismatchError: 21,
    QuotaExceededError: 22, TimeoutError: 23, InvalidNodeTypeError: 24,
    DataCloneError: 25,
  };
  class DOMException extends Error {
    #name; #message;
    constructor(message = '', options = 'Error') {
      super();
      /* Error's constructor adds no own `message` when called without one,
       * so the prototype getter below is what user code sees. */
      this.#message = String(message);
      if (options !== null && typeof options === 'object') {
        this.#name = options.name === undefined ? 'Error' : String(options.name);
        if ('cause' in options) {
          Object.defineProperty(this, 'cause', { value: options.cause, writable: true, configurable: true });
        }
      } else {
        this.#name = String(options);
      }
    }
    get name() { return this.#name; }
    get message() { return this.#message; }
    get code() { return Object.hasOwn(legacyCodes, this.#name) ? legacyCodes[this.#name] : 0; }
  }
  lib.tag(DOMException, 'DOMException');
  lib.DOMException = DOMException;
  lib.define('DOMException', DOMException);
})
