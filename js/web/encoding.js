/* corral web globals, part 3: encoding and small host-backed globals.
 *
 * TextEncoder/TextDecoder (UTF-8 only, as in Workers), atob/btoa, crypto
 * (getRandomValues, randomUUID; no subtle), structuredClone, timers,
 * queueMicrotask, performance and navigator (`self` is set by the engine).
 * UTF-8 transcoding is done in C (native.utf8Encode / native.utf8Decode)
 * because byte loops in an interpreter are slow; this file only adds the
 * streaming and BOM rules.
 * The base64 alphabet table is built on first use, not at install time. */
(function (native, lib, g) {
  'use strict';
  const DOMException = lib.DOMException;

  /* Bytes of any BufferSource as a Uint8Array view (no copy). */
  function bufferSourceBytes(input, what) {
    if (input instanceof ArrayBuffer) return new Uint8Array(input);
    if (ArrayBuffer.isView(input)) return new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
    if (typeof SharedArrayBuffer === 'function' && input instanceof SharedArrayBuffer) return new Uint8Array(input);
    throw new TypeError(what + ': The provided value is not of type \'(ArrayBuffer or ArrayBufferView)\'.');
  }
  lib.bufferSourceBytes = bufferSourceBytes;

  /* ---- TextEncoder ------------------------------------------------------ */
  class TextEncoder {
    #brand = true;
    constructor() {}
    get encoding() { this.#brand; return 'utf-8'; }
    encode(input = '') { this.#brand; return native.utf8Encode(String(input)); }
    encodeInto(source, destination) {
      this.#brand;
      if (!(destination instanceof Uint8Array)) throw new TypeError("Failed to execute 'encodeInto' on 'TextEncoder': parameter 2 is not of type 'Uint8Array'.");
      const s = String(source);
      const bytes = native.utf8Encode(s);
      if (bytes.length <= destination.length) {
        destination.set(bytes);
        return { read: s.length, written: bytes.length };
      }
      /* Partial write: stop at the last whole code point that fits. */
      let read = 0, written = 0;
      const room = destination.length;
      while (read < s.length) {
        const c = s.charCodeAt(read);
        let units = 1, n;
        if (c < 0x80) n = 1;
        else if (c < 0x800) n = 2;
        else if (c >= 0xD800 && c <= 0xDBFF && read + 1 < s.length) {
          const d = s.charCodeAt(read + 1);
          if (d >= 0xDC00 && d <= 0xDFFF) { n = 4; units = 2; } else n = 3;
        } else n = 3;
        if (written + n > room) break;
        written += n; read += units;
      }
      destination.set(bytes.subarray(0, written));
      return { read, written };
    }
  }
  lib.tag(TextEncoder, 'TextEncoder');

  /* ---- TextDecoder ------------------------------------------------------ */
  const utf8Labels = ['unicode-1-1-utf-8', 'unicode11utf8', 'unicode20utf8', 'utf-8', 'utf8', 'x-unicode20utf8'];

  /* How many bytes at the end of `b` form an incomplete but so far valid
   * UTF-8 sequence that a later chunk may complete (0..3). */
  function pendingTail(b) {
    const len = b.length;
    for (let back = 1; back <= 3 && back <= len; back++) {
      const lead = b[len - back];
      if (lead >= 0x80 && lead < 0xC0) continue;
      const need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
      if (lead < 0xC2 || lead > 0xF4 || need <= back) return 0;
      if (back >= 2) {
        const s = b[len - back + 1];
        if (lead === 0xE0 && s < 0xA0) return 0;
        if (lead === 0xED && s > 0x9F) return 0;
        if (lead === 0xF0 && s < 0x90) return 0;
        if (lead === 0xF4 && s > 0x8F) return 0;
      }
      return back;
    }
    return 0;
  }

  class TextDecoder {
    #fatal; #ignoreBOM; #pending = null; #bomSeen = false;
    constructor(label = 'utf-8', options = undefined) {
      const l = String(label).replace(/^[\t\n\f\r ]+|[\t\n\f\r ]+$/g, '').toLowerCase();
      if (!utf8Labels.includes(l)) throw new RangeError(`Failed to construct 'TextDecoder': The encoding label provided ('${String(label)}') is invalid.`);
      const o = options == null ? {} : options;
      this.#fatal = !!o.fatal;
      this.#ignoreBOM = !!o.ignoreBOM;
    }
    get encoding() { this.#fatal; return 'utf-8'; }
    get fatal() { return this.#fatal; }
    get ignoreBOM() { return this.#ignoreBOM; }
    decode(input = undefined, options = undefined) {
      const stream = !!(options != null && options.stream);
      let bytes = input === undefined ? new Uint8Array(0) : bufferSourceBytes(input, "Failed to execute 'decode' on 'TextDecoder'");
      if (this.#pending) {
        const joined = new Uint8Array(this.#pending.length + bytes.length);
        joined.set(this.#pending); joined.set(bytes, this.#pending.length);
        bytes = joined; this.#pending = null;
      }
      if (stream) {
        const tail = pendingTail(bytes);
        if (tail) { this.#pending = bytes.slice(bytes.length - tail); bytes = bytes.subarray(0, bytes.length - tail); }
      }
      if (!this.#ignoreBOM && !this.#bomSeen && bytes.length > 0) {
        if (bytes.length >= 3 && bytes[0] === 0xEF && bytes[1] === 0xBB && bytes[2] === 0xBF) bytes = bytes.subarray(3);
        else if (bytes.length < 3 && stream && bytes[0] === 0xEF && (bytes.length < 2 || bytes[1] === 0xBB)) {
          /* a BOM may still be arriving: hold the bytes back */
          this.#pending = bytes.slice(); return '';
        }
        this.#bomSeen = true;
      }
      let out;
      try { out = native.utf8Decode(bytes, this.#fatal); }
      catch (e) { this.#pending = null; this.#bomSeen = false; throw new TypeError("Failed to execute 'decode' on 'TextDecoder': The encoded data was not valid for encoding utf-8"); }
      if (!stream) { this.#bomSeen = false; this.#pending = null; }
      return out;
    }
  }
  lib.tag(TextDecoder, 'TextDecoder');

  /* Body/Blob text: UTF-8 decode with BOM stripped, replacement on errors. */
  lib.decodeText = function (bytes) {
    if (bytes.length >= 3 && bytes[0] === 0xEF && bytes[1] === 0xBB && bytes[2] === 0xBF) bytes = bytes.subarray(3);
    return native.utf8Decode(bytes, false);
  };

  /* ---- atob / btoa ------------------------------------------------------ */
  const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let b64Rev = null;
  function btoa(data) {
    if (arguments.length === 0) throw new TypeError("Failed to execute 'btoa': 1 argument required, but only 0 present.");
    const s = String(data);
    let out = '';
    const n = s.length;
    for (let i = 0; i < n; i += 3) {
      const a = s.charCodeAt(i), b = i + 1 < n ? s.charCodeAt(i + 1) : 0, c = i + 2 < n ? s.charCodeAt(i + 2) : 0;
      if (a > 255 || b > 255 || c > 255) throw new DOMException('Invalid character', 'InvalidCharacterError');
      out += B64[a >> 2] + B64[((a & 3) << 4) | (b >> 4)] +
        (i + 1 < n ? B64[((b & 15) << 2) | (c >> 6)] : '=') + (i + 2 < n ? B64[c & 63] : '=');
    }
    return out;
  }
  function atob(data) {
    if (arguments.length === 0) throw new TypeError("Failed to execute 'atob': 1 argument required, but only 0 present.");
    let s = String(data).replace(/[\t\n\f\r ]+/g, '');
    if (s.length % 4 === 0) s = s.replace(/==?$/, '');
    if (s.length % 4 === 1 || /[^A-Za-z0-9+/]/.test(s)) throw new DOMException('The string to be decoded is not correctly encoded.', 'InvalidCharacterError');
    if (!b64Rev) { b64Rev = new Uint8Array(128); for (let i = 0; i < 64; i++) b64Rev[B64.charCodeAt(i)] = i; }
    const chars = [];
    let out = '';
    let buf = 0, bits = 0;
    for (let i = 0; i < s.length; i++) {
      buf = (buf << 6) | b64Rev[s.charCodeAt(i)];
      bits += 6;
      if (bits >= 8) {
        bits -= 8;
        chars.push((buf >> bits) & 255);
        if (chars.length === 8192) { out += String.fromCharCode.apply(null, chars); chars.length = 0; }
      }
    }
    return out + String.fromCharCode.apply(null, chars);
  }

  /* ---- crypto ----------------------------------------------------------- */
  const integerArrays = [Int8Array, Uint8Array, Uint8ClampedArray, Int16Array, Uint16Array, Int32Array, Uint32Array, BigInt64Array, BigUint64Array];
  let hex = null;
  class Crypto {
    constructor(token) { if (token !== lib.token) throw new TypeError('Illegal constructor'); }
    getRandomValues(array) {
      if (!(this instanceof Crypto)) throw new TypeError('Illegal invocation');
      if (arguments.length === 0) throw new TypeError("Failed to execute 'getRandomValues' on 'Crypto': 1 argument required, but only 0 present.");
      if (!ArrayBuffer.isView(array) || !integerArrays.some((C) => array instanceof C)) {
        throw new DOMException("The data argument must be an integer-type TypedArray", 'TypeMismatchError');
      }
      if (array.byteLength > 65536) throw new DOMException(`The ArrayBufferView's byte length (${array.byteLength}) exceeds the number of bytes of entropy available via this API (65536).`, 'QuotaExceededError');
      if (array.byteLength > 0) native.randomFill(new Uint8Array(array.buffer, array.byteOffset, array.byteLength));
      return array;
    }
    randomUUID() {
      if (!(this instanceof Crypto)) throw new TypeError('Illegal invocation');
      if (!hex) { hex = []; for (let i = 0; i < 256; i++) hex.push((i < 16 ? '0' : '') + i.toString(16)); }
      const b = new Uint8Array(16);
      native.randomFill(b);
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      return hex[b[0]] + hex[b[1]] + hex[b[2]] + hex[b[3]] + '-' + hex[b[4]] + hex[b[5]] + '-' +
        hex[b[6]] + hex[b[7]] + '-' + hex[b[8]] + hex[b[9]] + '-' +
        hex[b[10]] + hex[b[11]] + hex[b[12]] + hex[b[13]] + hex[b[14]] + hex[b[15]];
    }
  }
  lib.tag(Crypto, 'Crypto');

  /* ---- structuredClone -------------------------------------------------- */
  function structuredClone(value, options = undefined) {
    if (arguments.length === 0) throw new TypeError("Failed to execute 'structuredClone': 1 argument required, but only 0 present.");
    if (options != null && options.transfer != null) {
      const t = Array.from(options.transfer);
      if (t.length) throw new DOMException('structuredClone: the transfer option is not supported in corral', 'DataCloneError');
    }
    try {
      return native.clone(value);
    } catch (e) {
      if (e && e.name === 'DataCloneError') throw new DOMException(String(e.message), 'DataCloneError');
      throw e;
    }
  }

  /* ---- timers ----------------------------------------------------------- */
  function timerDelay(d) {
    const n = Number(d);
    return n > 0 && n <= 2147483647 ? Math.trunc(n) : 0;
  }
  function makeTimer(name, repeat) {
    return {
      [name](callback, delay = 0, ...args) {
        if (typeof callback !== 'function') {
          throw new TypeError(`${name}: the callback must be a function (string callbacks need eval, which corral does not provide)`);
        }
        const fn = args.length ? () => { callback.apply(g, args); } : () => { callback.call(g); };
        return native.setTimer(fn, timerDelay(delay), repeat);
      },
    }[name];
  }
  function makeClear(name) {
    return {
      [name](id = undefined) {
        const n = Number(id);
        if (Number.isInteger(n) && n > 0) native.clearTimer(n);
      },
    }[name];
  }

  function queueMicrotask(callback) {
    if (typeof callback !== 'function') throw new TypeError("Failed to execute 'queueMicrotask': parameter 1 is not of type 'Function'.");
    Promise.resolve().then(() => { callback(); });
  }

  /* ---- performance, navigator ------------------------------------------ */
  class Performance {
    constructor(token) { if (token !== lib.token) throw new TypeError('Illegal constructor'); }
    now() { if (!(this instanceof Performance)) throw new TypeError('Illegal invocation'); return native.now(); }
    get timeOrigin() { return native.timeOrigin; }
    toJSON() { return { timeOrigin: native.timeOrigin }; }
  }
  lib.tag(Performance, 'Performance');

  class Navigator {
    constructor(token) { if (token !== lib.token) throw new TypeError('Illegal constructor'); }
    get userAgent() { return 'Cloudflare-Workers'; }
    get hardwareConcurrency() { return 1; }
  }
  lib.tag(Navigator, 'Navigator');

  lib.define('TextEncoder', TextEncoder);
  lib.define('TextDecoder', TextDecoder);
  lib.define('atob', atob);
  lib.define('btoa', btoa);
  lib.define('crypto', new Crypto(lib.token));
  lib.define('structuredClone', structuredClone);
  lib.define('setTimeout', makeTimer('setTimeout', false));
  lib.define('setInterval', makeTimer('setInterval', true));
  lib.define('clearTimeout', makeClear('clearTimeout'));
  lib.define('clearInterval', makeClear('clearInterval'));
  lib.define('queueMicrotask', queueMicrotask);
  lib.define('performance', new Performance(lib.token));
  lib.define('navigator', new Navigator(lib.token));
})
