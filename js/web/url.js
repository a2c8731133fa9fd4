/* corral web globals, part 5: URL and URLSearchParams (WHATWG URL Standard).
 *
 * A direct transcription of the standard's basic URL parser state machine
 * into one function, because the state machine is what WPT tests and what
 * Workers (ada) implements; shortcuts in URL parsing are where request
 * smuggling and SSRF bugs live. Differences from the letter of the standard,
 * each chosen for speed in an interpreter and each output-equivalent:
 *  - the input is walked in UTF-16 code units; non-ASCII only matters to
 *    percent-encoding, which encodes whole buffered runs (surrogate pairs
 *    intact) when a component ends, instead of code point by code point;
 *  - host names use an approximation of UTS #46 (NFKC + lower case, the
 *    ideographic full stops as dots) rather than the full IDNA mapping table,
 *    which would cost ~100 KB in every sandbox; ASCII hosts, the common case,
 *    are exact. Punycode (RFC 3492) is implemented here in full.
 * A URL keeps its record { scheme, username, password, host, port, path,
 * query, fragment } in a private field; `path` is an array of segments, or a
 * string for opaque paths ("mailto:x"). */
(function (native, lib, g) {
  'use strict';

  const EOF = -1;
  const FAIL = null;
  const specialPorts = { __proto__: null, 'ftp': 21, 'file': null, 'http': 80, 'https': 443, 'ws': 80, 'wss': 443 };
  const isSpecialScheme = (s) => s in specialPorts;

  /* ---- percent-encoding ------------------------------------------------- */
  /* Each set as "a character that must be encoded" (plus surrogate pairs,
   * which must be matched whole so they encode as one 4-byte sequence). */
  const SET_C0 = /[\uD800-\uDBFF][\uDC00-\uDFFF]|[^\x20-\x7E]/g;
  const SET_FRAGMENT = /[\uD800-\uDBFF][\uDC00-\uDFFF]|[^\x21\x23-\x3B\x3D\x3F-\x5F\x61-\x7E]/g;
  const SET_QUERY = /[\uD800-\uDBFF][\uDC00-\uDFFF]|[^\x21\x24-\x3B\x3D\x3F-\x7E]/g;
  const SET_SPECIAL_QUERY = /[\uD800-\uDBFF][\uDC00-\uDFFF]|[^\x21\x24-\x26\x28-\x3B\x3D\x3F-\x7E]/g;
  const SET_PATH = /[\uD800-\uDBFF][\uDC00-\uDFFF]|[^\x21\x24-\x3B\x3D\x40-\x5D\x5F\x61-\x7A\x7C\x7E]/g;
  const SET_USERINFO = /[\uD800-\uDBFF][\uDC00-\uDFFF]|[^\x21\x24-\x2E\x30-\x39\x41-\x5A\x5F\x61-\x7A\x7E]/g;
  const SET_FORM = /[\uD800-\uDBFF][\uDC00-\uDFFF]|[^\x2A\x2D\x2E\x30-\x39\x41-\x5A\x5F\x61-\x7A]/g;

  function encodeMatch(m) {
    if (m.length === 1) {
      const c = m.charCodeAt(0);
      if (c < 0x80) return (c < 16 ? '%0' : '%') + c.toString(16).toUpperCase();
      if (c >= 0xD800 && c <= 0xDFFF) return '%EF%BF%BD';
    }
    return encodeURIComponent(m);
  }
  function pctEncode(s, set) {
    set.lastIndex = 0;
    if (!set.test(s)) return s;
    set.lastIndex = 0;
    return s.replace(set, encodeMatch);
  }
  function formEncode(s) {
    SET_FORM.lastIndex = 0;
    if (!SET_FORM.test(s)) return s;
    SET_FORM.lastIndex = 0;
    return s.replace(SET_FORM, (m) => (m === ' ' ? '+' : encodeMatch(m)));
  }

  const isHex = (c) => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
  /* Percent-decode to bytes, then UTF-8 decode (invalid -> U+FFFD). */
  function pctDecode(s) {
    if (!s.includes('%')) return s.isWellFormed() ? s : s.toWellFormed();
    const src = native.utf8Encode(s);
    const out = new Uint8Array(src.length);
    let n = 0;
    for (let i = 0; i < src.length; i++) {
      const b = src[i];
      if (b === 0x25 && i + 2 < src.length && isHex(src[i + 1]) && isHex(src[i + 2])) {
        out[n++] = parseInt(String.fromCharCode(src[i + 1], src[i + 2]), 16);
        i += 2;
      } else out[n++] = b;
    }
    return native.utf8Decode(out.subarray(0, n), false);
  }

  /* ---- hosts ------------------------------------------------------------ */
  const FORBIDDEN_HOST = /[\x00\t\n\r #/:<>?@[\\\]^|]/;
  const FORBIDDEN_DOMAIN = /[\x00-\x20#%/:<>?@[\\\]^|\x7F]/;

  function parseIPv4Number(s) {
    if (s === '') return NaN;
    let radix = 10;
    if (s.length >= 2 && s[0] === '0' && (s[1] === 'x' || s[1] === 'X')) { radix = 16; s = s.slice(2); }
    else if (s.length >= 2 && s[0] === '0') { radix = 8; s = s.slice(1); }
    if (s === '') return 0;
    const re = radix === 16 ? /^[0-9A-Fa-f]+$/ : radix === 8 ? /^[0-7]+$/ : /^[0-9]+$/;
    if (!re.test(s)) return NaN;
    return parseInt(s, radix);
  }
  function endsInNumber(host) {
    const parts = host.split('.');
    if (parts[parts.length - 1] === '') { if (parts.length === 1) return false; parts.pop(); }
    const last = parts[parts.length - 1];
    if (last !== '' && /^[0-9]+$/.test(last)) return true;
    return !Number.isNaN(parseIPv4Number(last));
  }
  function parseIPv4(host) {
    const parts = host.split('.');
    if (parts[parts.length - 1] === '' && parts.length > 1) parts.pop();
    if (parts.length > 4) return FAIL;
    const nums = [];
    for (const p of parts) { const n = parseIPv4Number(p); if (Number.isNaN(n)) return FAIL; nums.push(n); }
    for (let i = 0; i < nums.length - 1; i++) if (nums[i] > 255) return FAIL;
    const last = nums[nums.length - 1];
    if (last >= 256 ** (5 - nums.length)) return FAIL;
    let v = last;
    for (let i = 0; i < nums.length - 1; i++) v += nums[i] * 256 ** (3 - i);
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
  }

  function parseIPv6(s) {
    const addr = [0, 0, 0, 0, 0, 0, 0, 0];
    let piece = 0, compress = null, p = 0;
    const len = s.length;
    const at = (i) => (i < len ? s.charCodeAt(i) : EOF);
    if (at(p) === 0x3A) {
      if (at(p + 1) !== 0x3A) return FAIL;
      p += 2; piece++; compress = piece;
    }
    while (at(p) !== EOF) {
      if (piece === 8) return FAIL;
      if (at(p) === 0x3A) {
        if (compress !== null) return FAIL;
        p++; piece++; compress = piece; continue;
      }
      let value = 0, length = 0;
      while (length < 4 && isHex(at(p))) { value = value * 16 + parseInt(s[p], 16); p++; length++; }
      if (at(p) === 0x2E) {
        if (length === 0) return FAIL;
        p -= length;
        if (piece > 6) return FAIL;
        let seen = 0;
        while (at(p) !== EOF) {
          let v4 = null;
          if (seen > 0) { if (at(p) === 0x2E && seen < 4) p++; else return FAIL; }
          const d0 = at(p);
          if (!(d0 >= 0x30 && d0 <= 0x39)) return FAIL;
          while (at(p) >= 0x30 && at(p) <= 0x39) {
            const n = at(p) - 0x30;
            if (v4 === null) v4 = n; else if (v4 === 0) return FAIL; else v4 = v4 * 10 + n;
            if (v4 > 255) return FAIL;
            p++;
          }
          addr[piece] = addr[piece] * 0x100 + v4;
          seen++;
          if (seen === 2 || seen === 4) piece++;
        }
        if (seen !== 4) return FAIL;
        break;
      } else if (at(p) === 0x3A) {
        p++;
        if (at(p) === EOF) return FAIL;
      } else if (at(p) !== EOF) return FAIL;
      addr[piece] = value;
      piece++;
    }
    if (compress !== null) {
      let swaps = piece - compress;
      piece = 7;
      while (piece !== 0 && swaps > 0) {
        const t = addr[compress + swaps - 1];
        addr[compress + swaps - 1] = addr[piece];
        addr[piece] = t;
        piece--; swaps--;
      }
    } else if (piece !== 8) return FAIL;
    return addr;
  }
  function serializeIPv6(a) {
    let best = -1, bestLen = 1;
    for (let i = 0; i < 8;) {
      if (a[i] !== 0) { i++; continue; }
      let j = i;
      while (j < 8 && a[j] === 0) j++;
      if (j - i > bestLen) { best = i; bestLen = j - i; }
      i = j;
    }
    let out = '', ignore0 = false;
    for (let i = 0; i < 8; i++) {
      if (ignore0 && a[i] === 0) continue;
      ignore0 = false;
      if (best === i) { out += i === 0 ? '::' : ':'; ignore0 = true; continue; }
      out += a[i].toString(16);
      if (i !== 7) out += ':';
    }
    return out;
  }

  /* RFC 3492 Punycode with the IDNA parameters. */
  const PC = { base: 36, tmin: 1, tmax: 26, skew: 38, damp: 700, bias: 72, n: 128 };
  function adapt(delta, numPoints, first) {
    delta = first ? Math.floor(delta / PC.damp) : delta >> 1;
    delta += Math.floor(delta / numPoints);
    let k = 0;
    while (delta > ((PC.base - PC.tmin) * PC.tmax) >> 1) { delta = Math.floor(delta / (PC.base - PC.tmin)); k += PC.base; }
    return k + Math.floor(((PC.base - PC.tmin + 1) * delta) / (delta + PC.skew));
  }
  const digitChar = (d) => String.fromCharCode(d < 26 ? 97 + d : 22 + d);
  function punyEncode(label) {
    const cps = Array.from(label, (c) => c.codePointAt(0));
    let out = '';
    for (const c of cps) if (c < 0x80) out += String.fromCharCode(c);
    const basic = out.length;
    let h = basic;
    if (basic > 0) out += '-';
    let n = PC.n, delta = 0, bias = PC.bias;
    while (h < cps.length) {
      let m = Infinity;
      for (const c of cps) if (c >= n && c < m) m = c;
      if ((m - n) * (h + 1) > 0x7FFFFFFF - delta) return FAIL;
      delta += (m - n) * (h + 1);
      n = m;
      for (const c of cps) {
        if (c < n) delta++;
        if (c === n) {
          let q = delta;
          for (let k = PC.base; ; k += PC.base) {
            const t = k <= bias ? PC.tmin : k >= bias + PC.tmax ? PC.tmax : k - bias;
            if (q < t) break;
            out += digitChar(t + ((q - t) % (PC.base - t)));
            q = Math.floor((q - t) / (PC.base - t));
          }
          out += digitChar(q);
          bias = adapt(delta, h + 1, h === basic);
          delta = 0; h++;
        }
      }
      delta++; n++;
    }
    return out;
  }
  function punyDecode(s) {
    const out = [];
    let i = 0, n = PC.n, bias = PC.bias;
    const dash = s.lastIndexOf('-');
    let p = 0;
    if (dash > 0) {
      for (; p < dash; p++) { const c = s.charCodeAt(p); if (c >= 0x80) return FAIL; out.push(c); }
      p = dash + 1;
    } else if (dash === 0) p = 1;
    while (p < s.length) {
      const oldi = i;
      let w = 1;
      for (let k = PC.base; ; k += PC.base) {
        if (p >= s.length) return FAIL;
        const c = s.charCodeAt(p++);
        const digit = c >= 48 && c <= 57 ? c - 22 : c >= 65 && c <= 90 ? c - 65 : c >= 97 && c <= 122 ? c - 97 : PC.base;
        if (digit >= PC.base) return FAIL;
        i += digit * w;
        if (i > 0x7FFFFFFF) return FAIL;
        const t = k <= bias ? PC.tmin : k >= bias + PC.tmax ? PC.tmax : k - bias;
        if (digit < t) break;
        w *= PC.base - t;
      }
      bias = adapt(i - oldi, out.length + 1, oldi === 0);
      n += Math.floor(i / (out.length + 1));
      if (n > 0x10FFFF) return FAIL;
      i %= out.length + 1;
      out.splice(i, 0, n);
      i++;
    }
    return String.fromCodePoint(...out);
  }

  function domainToASCII(domain) {
    let d = domain;
    if (/[^\x00-\x7F]/.test(d)) {
      d = d.normalize('NFKC').toLowerCase().replace(/[\u3002\uFF0E\uFF61]/g, '.').replace(/[\u00AD\u200B\u2060\uFEFF\u034F\u180B-\u180D\uFE00-\uFE0F]/g, '');
    } else d = d.toLowerCase();
    const labels = d.split('.');
    for (let i = 0; i < labels.length; i++) {
      const l = labels[i];
      if (l.startsWith('xn--')) {
        const dec = punyDecode(l.slice(4));
        if (dec === FAIL || dec === '' || !/[^\x00-\x7F]/.test(dec)) return FAIL;
      }
      if (/[^\x00-\x7F]/.test(l)) {
        const enc = punyEncode(l);
        if (enc === FAIL) return FAIL;
        labels[i] = 'xn--' + enc;
      }
    }
    const out = labels.join('.');
    return out === '' ? FAIL : out;
  }

  function parseHost(input, notSpecial) {
    if (input[0] === '[') {
      if (input[input.length - 1] !== ']') return FAIL;
      const a = parseIPv6(input.slice(1, -1));
      return a === FAIL ? FAIL : '[' + serializeIPv6(a) + ']';
    }
    if (notSpecial) {
      if (FORBIDDEN_HOST.test(input)) return FAIL;
      return pctEncode(input, SET_C0);
    }
    const domain = pctDecode(input);
    const ascii = domainToASCII(domain);
    if (ascii === FAIL || FORBIDDEN_DOMAIN.test(ascii)) return FAIL;
    if (endsInNumber(ascii)) return parseIPv4(ascii);
    return ascii;
  }

  /* ---- the basic URL parser --------------------------------------------- */
  const S = {
    SCHEME_START: 1, SCHEME: 2, NO_SCHEME: 3, SPECIAL_RELATIVE_OR_AUTHORITY: 4, PATH_OR_AUTHORITY: 5,
    RELATIVE: 6, RELATIVE_SLASH: 7, SPECIAL_AUTHORITY_SLASHES: 8, SPECIAL_AUTHORITY_IGNORE_SLASHES: 9,
    AUTHORITY: 10, HOST: 11, HOSTNAME: 12, PORT: 13, FILE: 14, FILE_SLASH: 15, FILE_HOST: 16,
    PATH_START: 17, PATH: 18, OPAQUE_PATH: 19, QUERY: 20, FRAGMENT: 21,
  };
  const isAlpha = (c) => (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A);
  const isDigit = (c) => c >= 0x30 && c <= 0x39;
  const isWinLetter = (s) => s.length === 2 && isAlpha(s.charCodeAt(0)) && (s[1] === ':' || s[1] === '|');
  const isNormWinLetter = (s) => s.length === 2 && isAlpha(s.charCodeAt(0)) && s[1] === ':';
  function startsWithWinLetter(s, p) {
    if (s.length - p < 2) return false;
    if (!isAlpha(s.charCodeAt(p)) || (s[p + 1] !== ':' && s[p + 1] !== '|')) return false;
    if (s.length - p === 2) return true;
    const c = s[p + 2];
    return c === '/' || c === '\\' || c === '?' || c === '#';
  }
  const isSingleDot = (b) => b === '.' || b.toLowerCase() === '%2e';
  const isDoubleDot = (b) => { const l = b.toLowerCase(); return l === '..' || l === '.%2e' || l === '%2e.' || l === '%2e%2e'; };
  function shortenPath(url) {
    const path = url.path;
    if (url.scheme === 'file' && path.length === 1 && isNormWinLetter(path[0])) return;
    path.pop();
  }
  function newRecord() {
    return { scheme: '', username: '', password: '', host: null, port: null, path: [], query: null, fragment: null };
  }
  const includesCredentials = (u) => u.username !== '' || u.password !== '';

  /* Returns the record, or FAIL. With stateOverride (setters) it mutates
   * `url` and its return value only matters as FAIL vs not. */
  function basicParse(input, base, url, override) {
    if (!url) {
      url = newRecord();
      input = input.replace(/^[\x00-\x20]+|[\x00-\x20]+$/g, '');
    }
    input = input.replace(/[\t\n\r]/g, '');
    let state = override || S.SCHEME_START;
    let buffer = '', atSeen = false, insideBrackets = false, passwordSeen = false;
    const len = input.length;
    let p = 0;
    for (;;) {
      const c = p < len ? input.charCodeAt(p) : EOF;
      switch (state) {
        case S.SCHEME_START:
          if (isAlpha(c)) { buffer += String.fromCharCode(c).toLowerCase(); state = S.SCHEME; }
          else if (!override) { state = S.NO_SCHEME; p--; }
          else return FAIL;
          break;
        case S.SCHEME:
          if (isAlpha(c) || isDigit(c) || c === 0x2B || c === 0x2D || c === 0x2E) buffer += String.fromCharCode(c).toLowerCase();
          else if (c === 0x3A) {
            if (override) {
              if (isSpecialScheme(url.scheme) !== isSpecialScheme(buffer)) return url;
              if ((includesCredentials(url) || url.port !== null) && buffer === 'file') return url;
              if (url.scheme === 'file' && url.host === '') return url;
            }
            url.scheme = buffer;
            if (override) {
              if (url.port === specialPorts[url.scheme]) url.port = null;
              return url;
            }
            buffer = '';
            if (url.scheme === 'file') state = S.FILE;
            else if (isSpecialScheme(url.scheme) && base && base.scheme === url.scheme) state = S.SPECIAL_RELATIVE_OR_AUTHORITY;
            else if (isSpecialScheme(url.scheme)) state = S.SPECIAL_AUTHORITY_SLASHES;
            else if (input.charCodeAt(p + 1) === 0x2F) { state = S.PATH_OR_AUTHORITY; p++; }
            else { url.path = ''; state = S.OPAQUE_PATH; }
          } else if (!override) { buffer = ''; state = S.NO_SCHEME; p = -1; }
          else return FAIL;
          break;
        case S.NO_SCHEME:
          if (!base || (typeof base.path === 'string' && c !== 0x23)) return FAIL;
          if (typeof base.path === 'string' && c === 0x23) {
            url.scheme = base.scheme; url.path = base.path; url.query = base.query; url.fragment = ''; state = S.FRAGMENT;
          } else if (base.scheme !== 'file') { state = S.RELATIVE; p--; }
          else { state = S.FILE; p--; }
          break;
        case S.SPECIAL_RELATIVE_OR_AUTHORITY:
          if (c === 0x2F && input.charCodeAt(p + 1) === 0x2F) { state = S.SPECIAL_AUTHORITY_IGNORE_SLASHES; p++; }
          else { state = S.RELATIVE; p--; }
          break;
        case S.PATH_OR_AUTHORITY:
          if (c === 0x2F) state = S.AUTHORITY;
          else { state = S.PATH; p--; }
          break;
        case S.RELATIVE:
          url.scheme = base.scheme;
          if (c === 0x2F) state = S.RELATIVE_SLASH;
          else if (isSpecialScheme(url.scheme) && c === 0x5C) state = S.RELATIVE_SLASH;
          else {
            url.username = base.username; url.password = base.password; url.host = base.host; url.port = base.port;
            url.path = base.path.slice(); url.query = base.query;
            if (c === 0x3F) { url.query = ''; state = S.QUERY; }
            else if (c === 0x23) { url.fragment = ''; state = S.FRAGMENT; }
            else if (c !== EOF) { url.query = null; shortenPath(url); state = S.PATH; p--; }
          }
          break;
        case S.RELATIVE_SLASH:
          if (isSpecialScheme(url.scheme) && (c === 0x2F || c === 0x5C)) state = S.SPECIAL_AUTHORITY_IGNORE_SLASHES;
          else if (c === 0x2F) state = S.AUTHORITY;
          else {
            url.username = base.username; url.password = base.password; url.host = base.host; url.port = base.port;
            state = S.PATH; p--;
          }
          break;
        case S.SPECIAL_AUTHORITY_SLASHES:
          if (c === 0x2F && input.charCodeAt(p + 1) === 0x2F) { state = S.SPECIAL_AUTHORITY_IGNORE_SLASHES; p++; }
          else { state = S.SPECIAL_AUTHORITY_IGNORE_SLASHES; p--; }
          break;
        case S.SPECIAL_AUTHORITY_IGNORE_SLASHES:
          if (c !== 0x2F && c !== 0x5C) { state = S.AUTHORITY; p--; }
          break;
        case S.AUTHORITY:
          if (c === 0x40) {
            if (atSeen) buffer = '%40' + buffer;
            atSeen = true;
            let user = buffer, pass = '';
            if (!passwordSeen) {
              const colon = buffer.indexOf(':');
              if (colon >= 0) { passwordSeen = true; user = buffer.slice(0, colon); pass = buffer.slice(colon + 1); }
              url.username += pctEncode(user, SET_USERINFO);
              if (passwordSeen) url.password += pctEncode(pass, SET_USERINFO);
            } else url.password += pctEncode(buffer, SET_USERINFO);
            buffer = '';
          } else if (c === EOF || c === 0x2F || c === 0x3F || c === 0x23 || (c === 0x5C && isSpecialScheme(url.scheme))) {
            if (atSeen && buffer === '') return FAIL;
            p -= buffer.length + 1;
            buffer = '';
            state = S.HOST;
          } else buffer += input[p];
          break;
        case S.HOST:
        case S.HOSTNAME:
          if (override && url.scheme === 'file') { p--; state = S.FILE_HOST; }
          else if (c === 0x3A && !insideBrackets) {
            if (buffer === '') return FAIL;
            if (override === S.HOSTNAME) return FAIL;
            const host = parseHost(buffer, !isSpecialScheme(url.scheme));
            if (host === FAIL) return FAIL;
            url.host = host; buffer = ''; state = S.PORT;
          } else if (c === EOF || c === 0x2F || c === 0x3F || c === 0x23 || (c === 0x5C && isSpecialScheme(url.scheme))) {
            p--;
            if (isSpecialScheme(url.scheme) && buffer === '') return FAIL;
            if (override && buffer === '' && (includesCredentials(url) || url.port !== null)) return FAIL;
            const host = parseHost(buffer, !isSpecialScheme(url.scheme));
            if (host === FAIL) return FAIL;
            url.host = host; buffer = ''; state = S.PATH_START;
            if (override) return url;
          } else {
            if (c === 0x5B) insideBrackets = true;
            if (c === 0x5D) insideBrackets = false;
            buffer += input[p];
          }
          break;
        case S.PORT:
          if (isDigit(c)) buffer += input[p];
          else if (c === EOF || c === 0x2F || c === 0x3F || c === 0x23 || (c === 0x5C && isSpecialScheme(url.scheme)) || override) {
            if (buffer !== '') {
              const port = parseInt(buffer, 10);
              if (port > 65535) return FAIL;
              url.port = specialPorts[url.scheme] === port ? null : port;
              buffer = '';
            }
            if (override) return url;
            state = S.PATH_START; p--;
          } else return FAIL;
          break;
        case S.FILE:
          url.scheme = 'file';
          url.host = '';
          if (c === 0x2F || c === 0x5C) state = S.FILE_SLASH;
          else if (base && base.scheme === 'file') {
            url.host = base.host; url.path = base.path.slice(); url.query = base.query;
            if (c === 0x3F) { url.query = ''; state = S.QUERY; }
            else if (c === 0x23) { url.fragment = ''; state = S.FRAGMENT; }
            else if (c !== EOF) {
              url.query = null;
              if (!startsWithWinLetter(input, p)) shortenPath(url);
              else url.path = [];
              state = S.PATH; p--;
            }
          } else { state = S.PATH; p--; }
          break;
        case S.FILE_SLASH:
          if (c === 0x2F || c === 0x5C) state = S.FILE_HOST;
          else {
            if (base && base.scheme === 'file') {
              url.host = base.host;
              if (!startsWithWinLetter(input, p) && typeof base.path !== 'string' && base.path.length && isNormWinLetter(base.path[0])) url.path.push(base.path[0]);
            }
            state = S.PATH; p--;
          }
          break;
        case S.FILE_HOST:
          if (c === EOF || c === 0x2F || c === 0x5C || c === 0x3F || c === 0x23) {
            p--;
            if (!override && isWinLetter(buffer)) state = S.PATH;
            else if (buffer === '') {
              url.host = '';
              if (override) return url;
              state = S.PATH_START;
            } else {
              let host = parseHost(buffer, !isSpecialScheme(url.scheme));
              if (host === FAIL) return FAIL;
              if (host === 'localhost') host = '';
              url.host = host;
              if (override) return url;
              buffer = '';
              state = S.PATH_START;
            }
          } else buffer += input[p];
          break;
        case S.PATH_START:
          if (isSpecialScheme(url.scheme)) { state = S.PATH; if (c !== 0x2F && c !== 0x5C) p--; }
          else if (!override && c === 0x3F) { url.query = ''; state = S.QUERY; }
          else if (!override && c === 0x23) { url.fragment = ''; state = S.FRAGMENT; }
          else if (c !== EOF) { state = S.PATH; if (c !== 0x2F) p--; }
          else if (override && url.host === null) url.path.push('');
          break;
        case S.PATH: {
          const special = isSpecialScheme(url.scheme);
          if (c === EOF || c === 0x2F || (special && c === 0x5C) || (!override && (c === 0x3F || c === 0x23))) {
            const slash = c === 0x2F || (special && c === 0x5C);
            if (isDoubleDot(buffer)) {
              shortenPath(url);
              if (!slash) url.path.push('');
            } else if (isSingleDot(buffer) && !slash) url.path.push('');
            else if (!isSingleDot(buffer)) {
              if (url.scheme === 'file' && url.path.length === 0 && isWinLetter(buffer)) buffer = buffer[0] + ':';
              url.path.push(pctEncode(buffer, SET_PATH));
            }
            buffer = '';
            if (c === 0x3F) { url.query = ''; state = S.QUERY; }
            if (c === 0x23) { url.fragment = ''; state = S.FRAGMENT; }
          } else {
            /* take the run up to the next delimiter in one step */
            let q = p + 1;
            while (q < len) {
              const d = input.charCodeAt(q);
              if (d === 0x2F || d === 0x3F || d === 0x23 || (special && d === 0x5C)) break;
              q++;
            }
            buffer += input.slice(p, q);
            p = q - 1;
          }
          break;
        }
        case S.OPAQUE_PATH:
          if (c === 0x3F) { url.query = ''; state = S.QUERY; }
          else if (c === 0x23) { url.fragment = ''; state = S.FRAGMENT; }
          else if (c !== EOF) {
            let q = p + 1;
            while (q < len && input.charCodeAt(q) !== 0x3F && input.charCodeAt(q) !== 0x23) q++;
            url.path += pctEncode(input.slice(p, q), SET_C0);
            p = q - 1;
          }
          break;
        case S.QUERY: {
          let q = p;
          if (!override) { while (q < len && input.charCodeAt(q) !== 0x23) q++; } else q = len;
          url.query += pctEncode(input.slice(p, q), isSpecialScheme(url.scheme) ? SET_SPECIAL_QUERY : SET_QUERY);
          p = q;
          if (p < len) { url.fragment = ''; state = S.FRAGMENT; }
          break;
        }
        case S.FRAGMENT:
          if (c !== EOF) { url.fragment += pctEncode(input.slice(p), SET_FRAGMENT); p = len; }
          break;
      }
      if (p >= len) break;
      p++;
    }
    return url;
  }

  function serializePath(u) {
    if (typeof u.path === 'string') return u.path;
    let s = '';
    for (const seg of u.path) s += '/' + seg;
    return s;
  }
  function serialize(u, excludeFragment) {
    let s = u.scheme + ':';
    if (u.host !== null) {
      s += '//';
      if (includesCredentials(u)) s += u.username + (u.password !== '' ? ':' + u.password : '') + '@';
      s += u.host;
      if (u.port !== null) s += ':' + u.port;
    } else if (typeof u.path !== 'string' && u.path.length > 1 && u.path[0] === '') s += '/.';
    s += serializePath(u);
    if (u.query !== null) s += '?' + u.query;
    if (!excludeFragment && u.fragment !== null) s += '#' + u.fragment;
    return s;
  }
  function originOf(u) {
    if (u.scheme === 'blob') {
      const inner = basicParse(serializePath(u), null);
      if (inner !== FAIL && (inner.scheme === 'http' || inner.scheme === 'https')) return originOf(inner);
      return 'null';
    }
    if (u.scheme === 'file' || !isSpecialScheme(u.scheme)) return 'null';
    return u.scheme + '://' + u.host + (u.port !== null ? ':' + u.port : '');
  }
  function stripTrailingSpaces(u) {
    if (typeof u.path !== 'string' || u.fragment !== null || u.query !== null) return;
    u.path = u.path.replace(/ +$/, '');
  }

  /* ---- application/x-www-form-urlencoded -------------------------------- */
  function parseForm(s) {
    const out = [];
    for (const part of s.split('&')) {
      if (part === '') continue;
      const eq = part.indexOf('=');
      const name = eq < 0 ? part : part.slice(0, eq);
      const value = eq < 0 ? '' : part.slice(eq + 1);
      out.push([pctDecode(name.replace(/\+/g, ' ')), pctDecode(value.replace(/\+/g, ' '))]);
    }
    return out;
  }
  function serializeForm(list) {
    let s = '';
    for (let i = 0; i < list.length; i++) s += (i ? '&' : '') + formEncode(list[i][0]) + '=' + formEncode(list[i][1]);
    return s;
  }
  lib.serializeForm = serializeForm;

  const usv = (v) => { const s = String(v); return s.isWellFormed() ? s : s.toWellFormed(); };

  /* ---- URLSearchParams -------------------------------------------------- */
  let spAttach, spSetList, spList;
  class URLSearchParams {
    #list = [];
    #url = null;
    constructor(init = '') {
      if (init !== null && (typeof init === 'object' || typeof init === 'function')) {
        const iter = init[Symbol.iterator];
        if (iter !== undefined && iter !== null) {
          if (typeof iter !== 'function') throw new TypeError("Failed to construct 'URLSearchParams': The provided value is not iterable.");
          for (const pair of init) {
            if (pair === null || (typeof pair !== 'object' && typeof pair !== 'function')) throw new TypeError("Failed to construct 'URLSearchParams': The provided value cannot be converted to a sequence.");
            const arr = Array.from(pair);
            if (arr.length !== 2) throw new TypeError("Failed to construct 'URLSearchParams': Sequence initializer must only contain pair elements");
            this.#list.push([usv(arr[0]), usv(arr[1])]);
          }
        } else {
          for (const k of Reflect.ownKeys(init)) {
            if (typeof k !== 'string') continue;
            const d = Reflect.getOwnPropertyDescriptor(init, k);
            if (d && d.enumerable) this.#list.push([usv(k), usv(init[k])]);
          }
        }
      } else {
        let s = usv(init);
        if (s[0] === '?') s = s.slice(1);
        this.#list = parseForm(s);
      }
    }
    #update() {
      if (this.#url) this.#url(this.#list.length ? serializeForm(this.#list) : null);
    }
    get size() { return this.#list.length; }
    append(name, value) {
      if (arguments.length < 2) throw new TypeError("Failed to execute 'append' on 'URLSearchParams': 2 arguments required.");
      this.#list.push([usv(name), usv(value)]); this.#update();
    }
    delete(name, value = undefined) {
      if (arguments.length < 1) throw new TypeError("Failed to execute 'delete' on 'URLSearchParams': 1 argument required.");
      const n = usv(name);
      const v = value === undefined ? undefined : usv(value);
      this.#list = this.#list.filter((p) => !(p[0] === n && (v === undefined || p[1] === v)));
      this.#update();
    }
    get(name) {
      if (arguments.length < 1) throw new TypeError("Failed to execute 'get' on 'URLSearchParams': 1 argument required.");
      const n = usv(name);
      for (const p of this.#list) if (p[0] === n) return p[1];
      return null;
    }
    getAll(name) {
      if (arguments.length < 1) throw new TypeError("Failed to execute 'getAll' on 'URLSearchParams': 1 argument required.");
      const n = usv(name);
      return this.#list.filter((p) => p[0] === n).map((p) => p[1]);
    }
    has(name, value = undefined) {
      if (arguments.length < 1) throw new TypeError("Failed to execute 'has' on 'URLSearchParams': 1 argument required.");
      const n = usv(name);
      const v = value === undefined ? undefined : usv(value);
      return this.#list.some((p) => p[0] === n && (v === undefined || p[1] === v));
    }
    set(name, value) {
      if (arguments.length < 2) throw new TypeError("Failed to execute 'set' on 'URLSearchParams': 2 arguments required.");
      const n = usv(name), v = usv(value);
      const i = this.#list.findIndex((p) => p[0] === n);
      if (i < 0) this.#list.push([n, v]);
      else {
        this.#list[i][1] = v;
        this.#list = this.#list.filter((p, j) => j <= i || p[0] !== n);
      }
      this.#update();
    }
    sort() {
      /* stable sort by UTF-16 code units, as the standard requires */
      this.#list.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      this.#update();
    }
    forEach(callback, thisArg = undefined) {
      if (typeof callback !== 'function') throw new TypeError("Failed to execute 'forEach' on 'URLSearchParams': The callback provided as parameter 1 is not a function.");
      for (let i = 0; i < this.#list.length; i++) callback.call(thisArg, this.#list[i][1], this.#list[i][0], this);
    }
    keys() { this.#list; return spIter(this, 0); }
    values() { this.#list; return spIter(this, 1); }
    entries() { this.#list; return spIter(this, 2); }
    toString() { return serializeForm(this.#list); }
    static {
      spAttach = (sp, setter) => { sp.#url = setter; };
      spSetList = (sp, list) => { sp.#list = list; };
      spList = (sp) => sp.#list;
    }
  }
  const spIter = lib.makeIteratorFactory('URLSearchParams Iterator', (sp) => spList(sp));
  Object.defineProperty(URLSearchParams.prototype, Symbol.iterator, { value: URLSearchParams.prototype.entries, writable: true, configurable: true });
  lib.tag(URLSearchParams, 'URLSearchParams');
  lib.URLSearchParams = URLSearchParams;
  lib.inspectHooks.set(URLSearchParams.prototype, (sp) => {
    const o = {};
    for (const [k, v] of spList(sp)) o[k] = Object.hasOwn(o, k) ? [].concat(o[k], v) : v;
    return o;
  });

  /* ---- URL -------------------------------------------------------------- */
  function parseOrNull(url, base) {
    let b = null;
    if (base !== undefined) {
      b = basicParse(usv(base), null);
      if (b === FAIL) return FAIL;
    }
    return basicParse(usv(url), b);
  }
  const invalid = (input) => new TypeError('Invalid URL: ' + String(input));

  class URL {
    #u; #sp = null;
    constructor(url, base = undefined) {
      if (arguments.length === 0) throw new TypeError("Failed to construct 'URL': 1 argument required, but only 0 present.");
      const u = parseOrNull(url, base);
      if (u === FAIL) throw invalid(url);
      this.#u = u;
    }
    static canParse(url, base = undefined) {
      if (arguments.length === 0) throw new TypeError("Failed to execute 'canParse' on 'URL': 1 argument required, but only 0 present.");
      return parseOrNull(url, base) !== FAIL;
    }
    static parse(url, base = undefined) {
      if (arguments.length === 0) throw new TypeError("Failed to execute 'parse' on 'URL': 1 argument required, but only 0 present.");
      const u = parseOrNull(url, base);
      if (u === FAIL) return null;
      const obj = new URL('a:');
      obj.#u = u;
      return obj;
    }
    #syncQuery() {
      if (this.#sp) spSetList(this.#sp, this.#u.query ? parseForm(this.#u.query) : []);
    }
    get href() { return serialize(this.#u, false); }
    set href(v) {
      const u = basicParse(usv(v), null);
      if (u === FAIL) throw invalid(v);
      this.#u = u;
      this.#syncQuery();
    }
    get origin() { return originOf(this.#u); }
    get protocol() { return this.#u.scheme + ':'; }
    set protocol(v) { basicParse(usv(v) + ':', null, this.#u, S.SCHEME_START); }
    get username() { return this.#u.username; }
    set username(v) {
      const u = this.#u;
      if (u.host === null || u.host === '' || u.scheme === 'file') return;
      u.username = pctEncode(usv(v), SET_USERINFO);
    }
    get password() { return this.#u.password; }
    set password(v) {
      const u = this.#u;
      if (u.host === null || u.host === '' || u.scheme === 'file') return;
      u.password = pctEncode(usv(v), SET_USERINFO);
    }
    get host() {
      const u = this.#u;
      if (u.host === null) return '';
      return u.port === null ? u.host : u.host + ':' + u.port;
    }
    set host(v) {
      if (typeof this.#u.path === 'string') return;
      this.#setWith(usv(v), S.HOST);
    }
    get hostname() { return this.#u.host === null ? '' : this.#u.host; }
    set hostname(v) {
      if (typeof this.#u.path === 'string') return;
      this.#setWith(usv(v), S.HOSTNAME);
    }
    get port() { return this.#u.port === null ? '' : String(this.#u.port); }
    set port(v) {
      const u = this.#u;
      if (u.host === null || u.host === '' || u.scheme === 'file') return;
      const s = usv(v);
      if (s === '') u.port = null;
      else this.#setWith(s, S.PORT);
    }
    get pathname() { return serializePath(this.#u); }
    set pathname(v) {
      if (typeof this.#u.path === 'string') return;
      const saved = this.#u.path;
      this.#u.path = [];
      if (basicParse(usv(v), null, this.#u, S.PATH_START) === FAIL) this.#u.path = saved;
    }
    get search() { const q = this.#u.query; return q === null || q === '' ? '' : '?' + q; }
    set search(v) {
      const u = this.#u;
      let s = usv(v);
      if (s === '') { u.query = null; if (this.#sp) spSetList(this.#sp, []); stripTrailingSpaces(u); return; }
      if (s[0] === '?') s = s.slice(1);
      u.query = '';
      basicParse(s, null, u, S.QUERY);
      if (this.#sp) spSetList(this.#sp, parseForm(s));
    }
    get searchParams() {
      if (!this.#sp) {
        const sp = new URLSearchParams(this.#u.query || '');
        spAttach(sp, (q) => { this.#u.query = q; if (q === null) stripTrailingSpaces(this.#u); });
        this.#sp = sp;
      }
      return this.#sp;
    }
    get hash() { const f = this.#u.fragment; return f === null || f === '' ? '' : '#' + f; }
    set hash(v) {
      const u = this.#u;
      let s = usv(v);
      if (s === '') { u.fragment = null; stripTrailingSpaces(u); return; }
      if (s[0] === '#') s = s.slice(1);
      u.fragment = '';
      basicParse(s, null, u, S.FRAGMENT);
    }
    /* Setters parse into a copy so a failed parse leaves the URL unchanged. */
    #setWith(s, state) {
      const copy = Object.assign({}, this.#u);
      if (typeof copy.path !== 'string') copy.path = copy.path.slice();
      if (basicParse(s, null, copy, state) !== FAIL) this.#u = copy;
    }
    toString() { return serialize(this.#u, false); }
    toJSON() { return serialize(this.#u, false); }
    static {
      lib.urlRecord = (u) => u.#u;
    }
  }
  lib.tag(URL, 'URL');
  lib.inspectHooks.set(URL.prototype, (u) => ({
    href: u.href, origin: u.origin, protocol: u.protocol, username: u.username, password: u.password,
    host: u.host, hostname: u.hostname, port: u.port, pathname: u.pathname, search: u.search,
    searchParams: u.searchParams, hash: u.hash,
  }));
  /* Parse an absolute URL for Request/Response/fetch: serialized href, or throws. */
  lib.parseAbsolute = (input) => {
    const u = basicParse(usv(input), null);
    if (u === FAIL) throw invalid(input);
    return serialize(u, false);
  };
  lib.define('URL', URL);
  lib.define('URLSearchParams', URLSearchParams);
})
