/* The JavaScript half of corral's runtime, evaluated once in every sandbox
 * after the web globals and before user code.
 *
 * It holds what is easier to get right in JavaScript than in C: the
 * `cloudflare:workers` classes, the rules for which methods RPC may call,
 * how entrypoints are instantiated per call, the Worker Loader binding's
 * surface, and packing Request/Response objects for `fetch` across the wire.
 * It captures the built-ins it relies on at install time, so user code that
 * later replaces `Map.prototype.set` or `Array.from` cannot steer it. The
 * object it returns is kept by the C side only; user code never sees it.
 */
globalThis.__corralInstallRuntime = function (native, web) {
  "use strict";
  const ObjectCreate = Object.create, getProto = Object.getPrototypeOf,
    hasOwn = Object.prototype.hasOwnProperty, getOwnDesc = Object.getOwnPropertyDescriptor,
    defineProperty = Object.defineProperty, freeze = Object.freeze;
  const call = Function.prototype.call.bind(Function.prototype.call);
  const MapCtor = Map, SetCtor = Set, RegExpCtor = RegExp, BigIntFn = BigInt, ErrorCtor = Error;
  const mapEntries = Map.prototype.entries, mapSet = Map.prototype.set,
    setValues = Set.prototype.values, setAdd = Set.prototype.add,
    dateGetTime = Date.prototype.getTime, bigintToString = BigInt.prototype.toString;
  const errorCtors = { Error, TypeError, RangeError, SyntaxError, ReferenceError, EvalError, URIError };
  const viewCtors = [null, Uint8Array, Int8Array, Uint8ClampedArray, Int16Array, Uint16Array,
    Int32Array, Uint32Array, Float32Array, Float64Array, BigInt64Array, BigUint64Array, DataView,
    typeof Float16Array === "function" ? Float16Array : Uint16Array];
  const WeakMapP = WeakMap.prototype, WeakSetP = WeakSet.prototype, PromiseP = Promise.prototype,
    WeakRefP = typeof WeakRef === "function" ? WeakRef.prototype : null,
    FinRegP = typeof FinalizationRegistry === "function" ? FinalizationRegistry.prototype : null;
  // The web globals load on first use (lib/engine/lazy.c): web(name) is
  // the real class whatever user code did to globalThis; web(name, true) is
  // undefined while nothing of it can exist yet.
  const RequestCtor = () => web("Request"), ResponseCtor = () => web("Response");

  // No code generation from strings: eval and every Function constructor
  // throw, while `f.constructor === Function` and `instanceof` still hold.
  (function lockCodeGeneration() {
    const msg = "Code generation from strings disallowed for this context";
    const blockedEval = { eval(x) { throw new EvalError(msg); } }.eval;
    defineProperty(globalThis, "eval", { value: blockedEval, writable: true, configurable: true });
    const protos = [Function.prototype, getProto(async function () {}),
      getProto(function* () {}), getProto(async function* () {})];
    for (const proto of protos) {
      const original = proto.constructor;
      const blocked = function () { throw new EvalError(msg); };
      defineProperty(blocked, "name", { value: original.name });
      defineProperty(blocked, "prototype", { value: proto });
      defineProperty(proto, "constructor", { value: blocked, writable: false, configurable: false });
      if (original === Function) defineProperty(globalThis, "Function", { value: blocked, writable: true, configurable: true });
    }
  })();

  class RpcTarget {}
  class WorkerEntrypoint {
    constructor(ctx, env) { this.ctx = ctx; this.env = env; }
  }
  class DurableObject {
    constructor(ctx, env) { this.ctx = ctx; this.env = env; }
  }
  for (const C of [RpcTarget, WorkerEntrypoint, DurableObject]) freeze(C.prototype);

  function isRpcTarget(v) {
    for (let p = getProto(v); p !== null; p = getProto(p)) {
      if (p === RpcTarget.prototype || p === WorkerEntrypoint.prototype || p === DurableObject.prototype) return true;
    }
    return false;
  }

  function protoChainHas(v, proto) {
    for (let p = getProto(v); p !== null; p = getProto(p)) if (p === proto) return true;
    return false;
  }

  function uncloneableKind(v) {
    if (protoChainHas(v, WeakMapP)) return "A WeakMap";
    if (protoChainHas(v, WeakSetP)) return "A WeakSet";
    if (WeakRefP && protoChainHas(v, WeakRefP)) return "A WeakRef";
    if (FinRegP && protoChainHas(v, FinRegP)) return "A FinalizationRegistry";
    if (protoChainHas(v, PromiseP)) return "A Promise";
    const Req = web("Request", true), Res = web("Response", true);
    if (Req && v instanceof Req) return "A Request (pass it to fetch() instead)";
    if (Res && v instanceof Res) return "A Response (return it from fetch() instead)";
    return undefined;
  }

  // Which method may RPC call on `target`? Only methods a class defines
  // (its prototype chain up to the corral base class) or a plain object's
  // own function properties; never Object.prototype's, fields, env, ctx or
  // the constructor.
  function rpcMethod(target, name, isEntrypointInstance) {
    if (typeof name !== "string" || name === "constructor") return undefined;
    if (isEntrypointInstance && (name === "env" || name === "ctx")) return undefined;
    const proto = getProto(target);
    if (proto === Object.prototype || proto === null) {
      if (!call(hasOwn, target, name)) return undefined;
      const d = getOwnDesc(target, name);
      return d && typeof d.value === "function" ? d.value : undefined;
    }
    for (let p = proto; p !== null; p = getProto(p)) {
      if (p === RpcTarget.prototype || p === WorkerEntrypoint.prototype ||
          p === DurableObject.prototype || p === Object.prototype) break;
      const d = getOwnDesc(p, name);
      if (d) return typeof d.value === "function" ? d.value : undefined;
    }
    return undefined;
  }

  function noMethod(name) {
    return new TypeError(`The RPC receiver does not implement the method "${String(name)}".`);
  }

  // Request/Response travel as plain records: the wire format carries
  // structured-clone types only.
  async function packRequest(input, init) {
    const Req = RequestCtor();
    const req = (input instanceof Req && init === undefined) ? input : new Req(input, init);
    const body = (req.method === "GET" || req.method === "HEAD") ? null : new Uint8Array(await req.arrayBuffer());
    return { method: req.method, url: req.url, headers: [...req.headers], body, redirect: req.redirect };
  }
  function unpackRequest(r) {
    const init = { method: r.method, headers: r.headers };
    if (r.body != null && r.method !== "GET" && r.method !== "HEAD") init.body = r.body;
    return new (RequestCtor())(r.url, init);
  }
  async function packResponse(res) {
    if (!(res instanceof ResponseCtor()))
      throw new TypeError("The fetch handler must return a Response (got " + describe(res) + ").");
    const body = new Uint8Array(await res.arrayBuffer());
    return { status: res.status, statusText: res.statusText, headers: [...res.headers], body };
  }
  function unpackResponse(r, url) {
    const status = r.status;
    const nullBody = status === 101 || status === 204 || status === 205 || status === 304;
    const res = new (ResponseCtor())(nullBody ? null : r.body, { status, statusText: r.statusText, headers: r.headers });
    if (url) try { defineProperty(res, "url", { value: url, configurable: true }); } catch (e) {}
    return res;
  }
  function describe(v) {
    if (v === null) return "null";
    if (typeof v !== "object") return typeof v;
    const c = v.constructor;
    return c && typeof c.name === "string" && c.name ? "an instance of " + c.name : "an object";
  }

  function makeCtx(props, exportsObj, invocation) {
    const ctx = {
      props: props === undefined ? {} : props,
      exports: exportsObj,
      waitUntil(p) { native.waitUntil(invocation, Promise.resolve(p)); },
      passThroughOnException() {},
    };
    return ctx;
  }

  function entrypointExport(ns, name) {
    if (name === "default") {
      if (!ns || !call(hasOwn, ns, "default") || ns.default == null) throw new ErrorCtor("Worker has no default entrypoint.");
      return ns.default;
    }
    if (!ns || !call(hasOwn, ns, name) || ns[name] == null) throw new ErrorCtor("Worker has no such entrypoint: " + name);
    return ns[name];
  }

  function isEntrypointClass(exp) {
    return typeof exp === "function" && exp.prototype !== undefined &&
      (exp.prototype instanceof WorkerEntrypoint || exp.prototype instanceof DurableObject);
  }

  // One call on an entrypoint: classes are instantiated per call, as
  // Workers does; plain objects get (args..., env, ctx).
  let exportsObj;
  async function callEntrypoint(nsPromise, name, props, method, args, env, invocation) {
    const ns = await nsPromise;
    if (exportsObj === undefined) exportsObj = makeExports(ns);
    const exp = entrypointExport(ns, name);
    const ctx = makeCtx(props, exportsObj, invocation);
    const isFetch = method === "fetch";
    const callArgs = isFetch ? [unpackRequest(args[0])] : args;
    let result;
    if (isEntrypointClass(exp)) {
      const inst = new exp(ctx, env);
      const fn = rpcMethod(inst, method, true);
      if (!fn) throw isFetch ? new ErrorCtor("Handler does not export a fetch() function.") : noMethod(method);
      result = await call(fn, inst, ...callArgs);
    } else if (typeof exp === "object") {
      const fn = rpcMethod(exp, method, false);
      if (!fn) throw isFetch ? new ErrorCtor("Handler does not export a fetch() function.") : noMethod(method);
      result = await call(fn, exp, ...callArgs, env, ctx);
    } else {
      throw new TypeError(`Entrypoint "${name}" is neither a WorkerEntrypoint class nor an object with handler methods.`);
    }
    return isFetch ? packResponse(result) : result;
  }

  // A call on an exported function or RpcTarget.
  async function callObject(target, method, args) {
    if (method === null || method === undefined) {
      if (typeof target !== "function") throw new TypeError("The RPC receiver is not callable.");
      return target(...args);
    }
    if (typeof target === "function") throw noMethod(method);
    const fn = rpcMethod(target, method, true);
    if (!fn) throw noMethod(method);
    return call(fn, target, ...args);
  }

  function makeFetchMethod(stub) {
    return async function fetch(input, init) {
      const packed = await packRequest(input, init);
      const r = await native.rawCall(stub, "fetch", [packed]);
      return unpackResponse(r, packed.url);
    };
  }

  function workerStub(handle) {
    const ws = {
      getEntrypoint(name, options) {
        const n = name === undefined || name === null ? "default" : String(name);
        const o = options == null ? {} : options;
        return native.getEntrypoint(handle, n, o.props, o.limits);
      },
      getDurableObjectClass(name) {
        throw new ErrorCtor("getDurableObjectClass() is not supported yet by corral: Durable Object facets are not implemented.");
      },
    };
    return freeze(ws);
  }

  function makeLoader() {
    const loader = {
      load(code) { return workerStub(native.load(code)); },
      get(id, getCode) {
        if (typeof getCode !== "function") throw new TypeError("get(id, getCode): getCode must be a function returning WorkerCode.");
        const r = native.get(id === undefined || id === null ? null : String(id));
        if (r.needCode) {
          Promise.resolve().then(() => getCode()).then(
            (code) => native.provide(r.handle, code),
            (e) => native.provideError(r.handle, e));
        }
        return workerStub(r.handle);
      },
    };
    return freeze(loader);
  }

  function makeExports(ns) {
    const ex = ObjectCreate(null);
    if (!ns) return freeze(ex);
    for (const name of Object.keys(ns)) {
      const v = ns[name];
      if (isEntrypointClass(v) || (v !== null && typeof v === "object" && name !== "default")) {
        ex[name] = function (opts) { return native.loopback(name, opts == null ? undefined : opts.props); };
      }
    }
    return freeze(ex);
  }

  function describeError(e) {
    try {
      if (e !== null && typeof e === "object" && typeof e.stack === "string" && e.stack) {
        const head = String(e.name === undefined ? "Error" : e.name) + ": " + String(e.message);
        return e.stack.startsWith(head) ? e.stack.trimEnd() : head + "\n" + e.stack.trimEnd();
      }
      if (e !== null && typeof e === "object" && "message" in e) return String(e.name || "Error") + ": " + String(e.message);
      return "Uncaught " + (typeof e === "string" ? e : String(e));
    } catch (_) {
      return "Uncaught (an exception that could not be printed)";
    }
  }

  // Startup errors keep their message and gain the location: QuickJS puts
  // a syntax error's module, line and column only in the stack.
  function locate(e) {
    if (e instanceof SyntaxError && typeof e.stack === "string") {
      const m = /at ([^\s()]+:\d+(?::\d+)?)/.exec(e.stack);
      if (m && !String(e.message).includes(m[1])) {
        try { e.message = e.message + " (at " + m[1] + ")"; } catch (_) {}
      }
    }
    return e;
  }
  function startFailed(e) {
    const p = Promise.reject(locate(e));
    p.catch(() => {});
    return p;
  }
  // A module graph that fails while evaluating (a CommonJS module with a
  // syntax error, a top-level throw) rejects here rather than at compile.
  function startPromise(done, ns) {
    const p = Promise.resolve(done).then(() => ns, (e) => { throw locate(e); });
    p.catch(() => {});
    return p;
  }

  return {
    RpcTarget, WorkerEntrypoint, DurableObject,
    describeError, startFailed, startPromise,
    disposeSymbol: typeof Symbol.dispose === "symbol" ? Symbol.dispose : Symbol.for("Symbol.dispose"),
    Map: MapCtor, Set: SetCtor, RegExp: RegExpCtor,
    mapSet, setAdd,
    bigintHex(v) { return call(bigintToString, v, 16); },
    bigintFromHex(s) { return s[0] === "-" ? -BigIntFn(s.slice(1)) : BigIntFn(s); },
    dateValue(d) { return call(dateGetTime, d); },
    unbox(v) { return v.valueOf(); },
    mapEntries(m) { const out = []; for (const [k, v] of call(mapEntries, m)) out.push(k, v); return out; },
    setValues(s) { const out = []; for (const v of call(setValues, s)) out.push(v); return out; },
    makeView(kind, ab) {
      const C = viewCtors[kind] || Uint8Array;
      return C === DataView ? new DataView(ab) : new C(ab, 0, ab.byteLength / (C.BYTES_PER_ELEMENT || 1));
    },
    makeError(name, message, stack) {
      const C = call(hasOwn, errorCtors, name) ? errorCtors[name] : ErrorCtor;
      const e = new C(message);
      if (C === ErrorCtor && name !== "Error") defineProperty(e, "name", { value: name, writable: true, configurable: true });
      if (stack !== undefined) defineProperty(e, "stack", { value: stack, writable: true, configurable: true });
      return e;
    },
    isRpcTarget, uncloneableKind, callEntrypoint, callObject, makeFetchMethod,
    makeLoader, makeExports, packRequest, unpackResponse, packResponse,
    workersModule: { WorkerEntrypoint, RpcTarget, DurableObject },
  };
};
