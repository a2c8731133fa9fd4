/* corral web globals, part 6: Blob, Headers, Request, Response, fetch.
 *
 * Bodies are held as whole byte arrays (Uint8Array), never as streams:
 * sandbox code reads bodies with text()/json()/arrayBuffer()/bytes()/blob(),
 * and a half-built ReadableStream would be worse than none, so `body` is
 * deliberately absent (see docs/globals.md). The byte arrays are never
 * mutated after construction, which lets clone() share them; everything
 * handed to user code is a fresh copy.
 *
 * Headers follow the Fetch Standard's header list (names compared
 * case-insensitively, iteration sorted and combined with ", ", Set-Cookie
 * kept apart) but without the browser-only forbidden-header rules, as in
 * Workers. fetch() hands the request to native.fetch and races it against
 * the request's AbortSignal. */
(function (native, lib, g) {
  'use strict';
  /* Signals (events), text decoding (encoding), URL parsing and
   * URLSearchParams bodies (url) come from the other parts through lib. */
  lib.use('events');
  lib.use('encoding');
  lib.use('url');
  const DOMException = lib.DOMException;
  const EMPTY = new Uint8Array(0);

  /* Bytes of a part/body source, copied so later mutation by the caller
   * cannot change a Blob or body. */
  function copyBytes(v) {
    if (v instanceof ArrayBuffer) return new Uint8Array(v.slice(0));
    const u = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return u.slice();
  }

  /* ---- Blob ------------------------------------------------------------- */
  let blobBytes, makeBlob;
  class Blob {
    #bytes; #type;
    constructor(blobParts = undefined, options = undefined) {
      const chunks = [];
      let total = 0;
      if (blobParts !== undefined) {
        if (blobParts === null || typeof blobParts !== 'object' || typeof blobParts[Symbol.iterator] !== 'function') {
          throw new TypeError("Failed to construct 'Blob': The provided value cannot be converted to a sequence.");
        }
        for (const part of blobParts) {
          let b;
          if (part instanceof ArrayBuffer || ArrayBuffer.isView(part)) b = copyBytes(part);
          else if (part instanceof Blob) b = part.#bytes;
          else b = native.utf8Encode(String(part));
          chunks.push(b); total += b.length;
        }
      }
      const bytes = chunks.length === 1 ? chunks[0] : new Uint8Array(total);
      if (chunks.length !== 1) { let o = 0; for (const c of chunks) { bytes.set(c, o); o += c.length; } }
      this.#bytes = bytes;
      const t = options != null && options.type !== undefined ? String(options.type) : '';
      this.#type = /[^\x20-\x7E]/.test(t) ? '' : t.toLowerCase();
    }
    get size() { return this.#bytes.length; }
    get type() { return this.#type; }
    slice(start = undefined, end = undefined, contentType = undefined) {
      const size = this.#bytes.length;
      const rel = (v, d) => {
        if (v === undefined) return d;
        const n = Math.trunc(Number(v)) || 0;
        return n < 0 ? Math.max(size + n, 0) : Math.min(n, size);
      };
      const s = rel(start, 0), e = rel(end, size);
      const t = contentType === undefined ? '' : String(contentType);
      return makeBlob(this.#bytes.slice(s, Math.max(s, e)), /[^\x20-\x7E]/.test(t) ? '' : t.toLowerCase());
    }
    text() { try { return Promise.resolve(lib.decodeText(this.#bytes)); } catch (e) { return Promise.reject(e); } }
    arrayBuffer() { try { return Promise.resolve(this.#bytes.slice().buffer); } catch (e) { return Promise.reject(e); } }
    bytes() { try { return Promise.resolve(this.#bytes.slice()); } catch (e) { return Promise.reject(e); } }
    static {
      blobBytes = (b) => b.#bytes;
      makeBlob = (bytes, type) => { const b = new Blob(); b.#bytes = bytes; b.#type = type; return b; };
    }
  }
  lib.tag(Blob, 'Blob');
  lib.inspectHooks.set(Blob.prototype, (b) => ({ size: b.size, type: b.type }));

  /* ---- Headers ---------------------------------------------------------- */
  const TOKEN = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
  function checkName(name) {
    const n = String(name);
    if (!TOKEN.test(n)) throw new TypeError(`Invalid header name: '${n}'`);
    return n.toLowerCase();
  }
  function checkValue(value) {
    const v = String(value).replace(/^[\t\n\r ]+|[\t\n\r ]+$/g, '');
    if (/[\0\r\n]|[^\x00-\xFF]/.test(v)) throw new TypeError(`Invalid header value: '${v}'`);
    return v;
  }

  let headersList, headersSetGuard, headersAppendRaw;
  class Headers {
    /* lower-case name -> array of values, in insertion order */
    #map = new Map();
    #guard = 'none';
    #sorted = null;
    constructor(init = undefined) {
      if (init === undefined || init === null) {
        if (init === null) throw new TypeError("Failed to construct 'Headers': The provided value is not of type '(record<ByteString, ByteString> or sequence<sequence<ByteString>>)'.");
        return;
      }
      if (typeof init !== 'object' && typeof init !== 'function') throw new TypeError("Failed to construct 'Headers': The provided value is not of type '(record<ByteString, ByteString> or sequence<sequence<ByteString>>)'.");
      if (init instanceof Headers) {
        for (const [k, vs] of init.#map) this.#map.set(k, vs.slice());
        return;
      }
      const iter = init[Symbol.iterator];
      if (iter != null) {
        for (const pair of init) {
          if (pair === null || typeof pair !== 'object') throw new TypeError("Failed to construct 'Headers': The provided value cannot be converted to a sequence.");
          const arr = Array.from(pair);
          if (arr.length !== 2) throw new TypeError("Failed to construct 'Headers': Invalid value");
          this.append(arr[0], arr[1]);
        }
      } else {
        for (const k of Reflect.ownKeys(init)) {
          if (typeof k !== 'string') continue;
          const d = Reflect.getOwnPropertyDescriptor(init, k);
          if (d && d.enumerable) this.append(k, init[k]);
        }
      }
    }
    #mutable() {
      if (this.#guard === 'immutable') throw new TypeError("Can't modify immutable headers.");
      this.#sorted = null;
    }
    append(name, value) {
      if (arguments.length < 2) throw new TypeError("Failed to execute 'append' on 'Headers': 2 arguments required.");
      const n = checkName(name), v = checkValue(value);
      this.#mutable();
      const vs = this.#map.get(n);
      if (vs) vs.push(v); else this.#map.set(n, [v]);
    }
    delete(name) {
      if (arguments.length < 1) throw new TypeError("Failed to execute 'delete' on 'Headers': 1 argument required.");
      const n = checkName(name);
      this.#mutable();
      this.#map.delete(n);
    }
    get(name) {
      if (arguments.length < 1) throw new TypeError("Failed to execute 'get' on 'Headers': 1 argument required.");
      const vs = this.#map.get(checkName(name));
      return vs ? vs.join(', ') : null;
    }
    getSetCookie() { const vs = this.#map.get('set-cookie'); return vs ? vs.slice() : []; }
    getAll(name) {
      /* Workers-only API, limited to Set-Cookie there too */
      const n = checkName(name);
      if (n !== 'set-cookie') throw new TypeError('getAll() can only be used with the header name "Set-Cookie".');
      return this.getSetCookie();
    }
    has(name) {
      if (arguments.length < 1) throw new TypeError("Failed to execute 'has' on 'Headers': 1 argument required.");
      return this.#map.has(checkName(name));
    }
    set(name, value) {
      if (arguments.length < 2) throw new TypeError("Failed to execute 'set' on 'Headers': 2 arguments required.");
      const n = checkName(name), v = checkValue(value);
      this.#mutable();
      this.#map.set(n, [v]);
    }
    forEach(callback, thisArg = undefined) {
      if (typeof callback !== 'function') throw new TypeError("Failed to execute 'forEach' on 'Headers': The callback provided as parameter 1 is not a function.");
      const list = this.#list();
      for (let i = 0; i < list.length; i++) callback.call(thisArg, list[i][1], list[i][0], this);
    }
    keys() { this.#map; return headersIter(this, 0); }
    values() { this.#map; return headersIter(this, 1); }
    entries() { this.#map; return headersIter(this, 2); }
    /* sort-and-combine, cached until the next mutation */
    #list() {
      if (this.#sorted) return this.#sorted;
      const names = Array.from(this.#map.keys()).sort();
      const out = [];
      for (const n of names) {
        const vs = this.#map.get(n);
        if (n === 'set-cookie') for (const v of vs) out.push([n, v]);
        else out.push([n, vs.join(', ')]);
      }
      return (this.#sorted = out);
    }
    static {
      headersList = (h) => h.#list();
      headersSetGuard = (h, guard) => { h.#guard = guard; };
      headersAppendRaw = (h, n, v) => { const k = String(n).toLowerCase(); const vs = h.#map.get(k); if (vs) vs.push(String(v)); else h.#map.set(k, [String(v)]); h.#sorted = null; };
    }
  }
  const headersIter = lib.makeIteratorFactory('Headers Iterator', (h) => headersList(h));
  Object.defineProperty(Headers.prototype, Symbol.iterator, { value: Headers.prototype.entries, writable: true, configurable: true });
  lib.tag(Headers, 'Headers');
  lib.inspectHooks.set(Headers.prototype, (h) => {
    const o = {};
    for (const [k, v] of headersList(h)) o[k] = Object.hasOwn(o, k) ? [].concat(o[k], v) : v;
    return o;
  });

  /* ---- bodies ----------------------------------------------------------- */
  /* Extract a body: returns { bytes, type } where type is the default
   * Content-Type or null. */
  function extractBody(v) {
    if (typeof v === 'string') return { bytes: native.utf8Encode(v), type: 'text/plain;charset=UTF-8' };
    if (v instanceof ArrayBuffer || ArrayBuffer.isView(v)) return { bytes: copyBytes(v), type: null };
    if (v instanceof Blob) return { bytes: blobBytes(v), type: v.type || null };
    if (v instanceof lib.URLSearchParams) return { bytes: native.utf8Encode(v.toString()), type: 'application/x-www-form-urlencoded;charset=UTF-8' };
    if (v !== null && typeof v === 'object' && typeof v.getReader === 'function') {
      throw new TypeError('ReadableStream bodies are not supported in corral; pass a string, ArrayBuffer, typed array, Blob or URLSearchParams.');
    }
    return { bytes: native.utf8Encode(String(v)), type: 'text/plain;charset=UTF-8' };
  }

  const usedMessage = 'Body has already been used. It can only be used once. Use clone() first if you need to read it twice.';
  /* Body state shared by Request and Response: { bytes: Uint8Array|null, used } */
  function consume(state) {
    if (state.used) throw new TypeError(usedMessage);
    if (state.bytes === null) return EMPTY;
    state.used = true;
    return state.bytes;
  }
  function addBodyMethods(C, getState, getHeaders) {
    const methods = {
      text() { try { return Promise.resolve(lib.decodeText(consume(getState(this)))); } catch (e) { return Promise.reject(e); } },
      json() { try { return Promise.resolve(JSON.parse(lib.decodeText(consume(getState(this))))); } catch (e) { return Promise.reject(e); } },
      arrayBuffer() { try { return Promise.resolve(consume(getState(this)).slice().buffer); } catch (e) { return Promise.reject(e); } },
      bytes() { try { return Promise.resolve(consume(getState(this)).slice()); } catch (e) { return Promise.reject(e); } },
      blob() {
        try {
          const bytes = consume(getState(this));
          const ct = getHeaders(this).get('content-type');
          return Promise.resolve(makeBlob(bytes, ct && !/[^\x20-\x7E]/.test(ct) ? ct.toLowerCase() : ''));
        } catch (e) { return Promise.reject(e); }
      },
    };
    for (const k of Object.keys(methods)) Object.defineProperty(C.prototype, k, { value: methods[k], writable: true, configurable: true });
    Object.defineProperty(C.prototype, 'bodyUsed', { get: function () { return getState(this).used; }, configurable: true });
  }

  /* ---- Request ---------------------------------------------------------- */
  const NORMALIZE = ['DELETE', 'GET', 'HEAD', 'OPTIONS', 'POST', 'PUT'];
  const FORBIDDEN_METHODS = ['CONNECT', 'TRACE', 'TRACK'];
  const REDIRECTS = ['follow', 'error', 'manual'];

  let reqState, reqBody;
  class Request {
    #url; #method = 'GET'; #headers; #body = { bytes: null, used: false };
    #signal = null; #redirect = 'follow';
    constructor(input, init = undefined) {
      if (arguments.length === 0) throw new TypeError("Failed to construct 'Request': 1 argument required, but only 0 present.");
      const o = init == null ? {} : init;
      if (typeof o !== 'object') throw new TypeError("Failed to construct 'Request': The provided value is not of type 'RequestInit'.");
      let src = null;
      if (input instanceof Request) {
        src = input;
        this.#url = src.#url; this.#method = src.#method; this.#redirect = src.#redirect; this.#signal = src.#signal;
        this.#headers = new Headers(src.#headers);
      } else {
        this.#url = lib.parseAbsolute(input);
        this.#headers = new Headers();
      }
      if (o.method !== undefined) {
        let m = String(o.method);
        if (!TOKEN.test(m)) throw new TypeError(`'${m}' is not a valid HTTP method.`);
        const up = m.toUpperCase();
        if (FORBIDDEN_METHODS.includes(up)) throw new TypeError(`'${m}' HTTP method is unsupported.`);
        if (NORMALIZE.includes(up)) m = up;
        this.#method = m;
      }
      if (o.redirect !== undefined) {
        const r = String(o.redirect);
        if (!REDIRECTS.includes(r)) throw new TypeError(`Failed to construct 'Request': The provided value '${r}' is not a valid enum value of type RequestRedirect.`);
        this.#redirect = r;
      }
      if (o.signal !== undefined) {
        if (o.signal !== null && !(o.signal instanceof lib.AbortSignal)) throw new TypeError("Failed to construct 'Request': member signal is not of type AbortSignal.");
        this.#signal = o.signal;
      }
      if (o.headers !== undefined) this.#headers = new Headers(o.headers);
      const hasInitBody = o.body !== undefined && o.body !== null;
      if ((hasInitBody || (src && src.#body.bytes !== null && o.body === undefined)) && (this.#method === 'GET' || this.#method === 'HEAD')) {
        throw new TypeError('Request with a GET or HEAD method cannot have a body.');
      }
      if (hasInitBody) {
        const b = extractBody(o.body);
        this.#body = { bytes: b.bytes, used: false };
        if (b.type !== null && !this.#headers.has('content-type')) this.#headers.append('content-type', b.type);
      } else if (src && o.body === undefined && src.#body.bytes !== null) {
        /* taking over another Request's body uses it up, as in the standard */
        if (src.#body.used) throw new TypeError(usedMessage);
        this.#body = { bytes: src.#body.bytes, used: false };
        src.#body.used = true;
      }
      headersSetGuard(this.#headers, 'request');
    }
    get method() { return this.#method; }
    get url() { return this.#url; }
    get headers() { return this.#headers; }
    get redirect() { return this.#redirect; }
    get signal() {
      if (!this.#signal) this.#signal = lib.newSignal();
      return this.#signal;
    }
    clone() {
      if (this.#body.used) throw new TypeError("Failed to execute 'clone' on 'Request': Request body is already used");
      const r = new Request(this.#url, { method: this.#method, headers: this.#headers, redirect: this.#redirect, signal: this.#signal });
      r.#body = { bytes: this.#body.bytes, used: false };
      return r;
    }
    static {
      reqState = (r) => r.#body;
      reqBody = (r) => ({ method: r.#method, url: r.#url, headers: r.#headers, signal: r.#signal, body: r.#body });
    }
  }
  addBodyMethods(Request, (r) => reqState(r), (r) => r.headers);
  lib.tag(Request, 'Request');
  lib.inspectHooks.set(Request.prototype, (r) => ({ method: r.method, url: r.url, headers: r.headers, redirect: r.redirect, bodyUsed: r.bodyUsed }));

  /* ---- Response --------------------------------------------------------- */
  const NULL_BODY = [101, 103, 204, 205, 304];
  const REDIRECT_STATUS = [301, 302, 303, 307, 308];
  let respState, makeResponse;
  class Response {
    #status = 200; #statusText = ''; #headers; #body = { bytes: null, used: false };
    #type = 'default'; #url = ''; #redirected = false;
    constructor(body = null, init = undefined) {
      const o = init == null ? {} : init;
      if (typeof o !== 'object') throw new TypeError("Failed to construct 'Response': The provided value is not of type 'ResponseInit'.");
      if (o.status !== undefined) {
        const s = Number(o.status);
        if (!Number.isInteger(s) || s < 200 || s > 599) throw new RangeError(`Failed to construct 'Response': The status provided (${o.status}) is outside the range [200, 599].`);
        this.#status = s;
      }
      if (o.statusText !== undefined) {
        const t = String(o.statusText);
        if (/[^\t\x20-\x7E\x80-\xFF]/.test(t)) throw new TypeError("Failed to construct 'Response': Invalid statusText.");
        this.#statusText = t;
      }
      this.#headers = new Headers(o.headers === undefined ? undefined : o.headers);
      if (body !== null && body !== undefined) {
        if (NULL_BODY.includes(this.#status)) throw new TypeError(`Response with null body status (${this.#status}) cannot have a body.`);
        const b = extractBody(body);
        this.#body = { bytes: b.bytes, used: false };
        if (b.type !== null && !this.#headers.has('content-type')) this.#headers.append('content-type', b.type);
      }
      headersSetGuard(this.#headers, 'response');
    }
    get type() { return this.#type; }
    get url() { return this.#url; }
    get redirected() { return this.#redirected; }
    get status() { return this.#status; }
    get ok() { return this.#status >= 200 && this.#status <= 299; }
    get statusText() { return this.#statusText; }
    get headers() { return this.#headers; }
    clone() {
      if (this.#body.used) throw new TypeError("Failed to execute 'clone' on 'Response': Response body is already used");
      const r = makeResponse(this.#status, this.#statusText, new Headers(this.#headers), this.#body.bytes, this.#url, this.#type);
      r.#redirected = this.#redirected;
      headersSetGuard(r.#headers, this.#type === 'error' ? 'immutable' : 'response');
      return r;
    }
    static error() {
      const r = makeResponse(0, '', new Headers(), null, '', 'error');
      headersSetGuard(r.#headers, 'immutable');
      return r;
    }
    static redirect(url, status = 302) {
      const href = lib.parseAbsolute(url);
      const s = Number(status);
      if (!REDIRECT_STATUS.includes(s)) throw new RangeError(`Failed to execute 'redirect' on 'Response': Invalid status code ${status}`);
      const h = new Headers([['location', href]]);
      const r = makeResponse(s, '', h, null, '', 'default');
      headersSetGuard(h, 'immutable');
      return r;
    }
    static json(data, init = undefined) {
      const text = JSON.stringify(data);
      if (text === undefined) throw new TypeError("Failed to execute 'json' on 'Response': The data is not JSON serializable");
      /* built from a null body so the text/plain default never applies */
      const r = new Response(null, init);
      if (NULL_BODY.includes(r.#status)) throw new TypeError(`Response with null body status (${r.#status}) cannot have a body.`);
      r.#body = { bytes: native.utf8Encode(text), used: false };
      if (!r.#headers.has('content-type')) headersAppendRaw(r.#headers, 'content-type', 'application/json');
      return r;
    }
    static {
      respState = (r) => r.#body;
      makeResponse = (status, statusText, headers, bytes, url, type) => {
        const r = new Response();
        r.#status = status; r.#statusText = statusText; r.#headers = headers;
        r.#body = { bytes, used: false }; r.#url = url; r.#type = type;
        return r;
      };
      lib.setRedirected = (r, v) => { r.#redirected = v; };
    }
  }
  addBodyMethods(Response, (r) => respState(r), (r) => r.headers);
  lib.tag(Response, 'Response');
  lib.inspectHooks.set(Response.prototype, (r) => ({
    status: r.status, statusText: r.statusText, ok: r.ok, url: r.url, redirected: r.redirected, headers: r.headers, bodyUsed: r.bodyUsed,
  }));

  /* ---- fetch ------------------------------------------------------------ */
  function fetch(input, init = undefined) {
    return new Promise((resolve, reject) => {
      if (arguments.length === 0) throw new TypeError("Failed to execute 'fetch': 1 argument required, but only 0 present.");
      const req = input instanceof Request && init === undefined ? input : new Request(input, init);
      const r = reqBody(req);
      if (r.signal && lib.isAborted(r.signal)) { reject(r.signal.reason); return; }
      if (r.body.used) throw new TypeError(usedMessage);
      const bytes = r.body.bytes;
      if (bytes !== null) r.body.used = true;
      const pairs = headersList(r.headers).map((p) => [p[0], p[1]]);
      let settled = false;
      if (r.signal) {
        lib.signalAddAlgorithm(r.signal, () => {
          if (!settled) { settled = true; reject(r.signal.reason); }
        });
      }
      native.fetch(r.method, r.url, pairs, bytes === null ? null : bytes.slice()).then((res) => {
        if (settled) return;
        settled = true;
        const h = new Headers();
        for (const [k, v] of res.headers) headersAppendRaw(h, k, v);
        headersSetGuard(h, 'immutable');
        const body = res.body instanceof ArrayBuffer ? new Uint8Array(res.body) : null;
        const resp = makeResponse(res.status, String(res.statusText || ''), h, NULL_BODY.includes(res.status) ? null : body, String(res.url || r.url), 'default');
        lib.setRedirected(resp, String(res.url || r.url) !== r.url);
        resolve(resp);
      }, (err) => {
        if (settled) return;
        settled = true;
        reject(err);
      });
    });
  }

  lib.define('Blob', Blob);
  lib.define('Headers', Headers);
  lib.define('Request', Request);
  lib.define('Response', Response);
  lib.define('fetch', fetch);
})
