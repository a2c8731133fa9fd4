/* corral web globals, part 4: console and the value formatter behind it.
 *
 * Most sandbox code is written by language models, and the console is how
 * they (and the people reviewing them) see what happened, so values print the
 * way Node's util.inspect prints them: `{ a: 1, b: 'x' }`, `Map(1) { 'a' => 1 }`,
 * `[Function: f]`, `[Circular *1]`, lines broken at 80 columns, long arrays
 * grouped in columns. The layout rules (single line when an entry list is
 * short and at most three levels deep, column grouping of more than six
 * short array items) follow Node's so output looks familiar.
 *
 * The formatter reads user objects, which may be Proxies with throwing traps
 * or objects with hostile getters; it never calls getters, and every object
 * is formatted inside try/catch so console calls cannot throw. Output goes
 * to native.log(level, line) one call per console call. */
(function (native, lib, g) {
  'use strict';
  const DEFAULT_DEPTH = 4, MAX_ITEMS = 100, MAX_STRING = 10000, BREAK = 80;
  const identRe = /^[A-Za-z_$][A-Za-z0-9_$]*$/;
  const escRe = /[\x00-\x1f\x7f\\]/g;
  const escMap = { '\n': '\\n', '\t': '\\t', '\r': '\\r', '\b': '\\b', '\f': '\\f', '\v': '\\v', '\\': '\\\\' };

  function quote(s) {
    let q = "'";
    if (s.includes("'")) {
      if (!s.includes('"')) q = '"';
      else if (!s.includes('`') && !s.includes('${')) q = '`';
    }
    let out = s.replace(escRe, (c) => escMap[c] || '\\x' + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0'));
    if (q === "'") out = out.replace(/'/g, "\\'");
    return q + out + q;
  }

  function fmtNumber(n) { return Object.is(n, -0) ? '-0' : String(n); }

  function fmtPrimitive(v, nested) {
    switch (typeof v) {
      case 'string':
        if (!nested) return v;
        if (v.length > MAX_STRING) return quote(v.slice(0, MAX_STRING)) + `... ${v.length - MAX_STRING} more characters`;
        return quote(v);
      case 'number': return fmtNumber(v);
      case 'bigint': return v + 'n';
      case 'symbol': return Symbol.prototype.toString.call(v);
      default: return String(v);
    }
  }

  function fmtKey(k) {
    if (typeof k === 'symbol') return '[' + Symbol.prototype.toString.call(k) + ']';
    return identRe.test(k) ? k : quote(k);
  }

  /* The nearest constructor name along the prototype chain, without
   * invoking getters; null for null-prototype objects. */
  function ctorName(v) {
    let p = Object.getPrototypeOf(v);
    if (p === null) return null;
    while (p !== null) {
      const d = Object.getOwnPropertyDescriptor(p, 'constructor');
      if (d && typeof d.value === 'function' && typeof d.value.name === 'string' && d.value.name !== '') return d.value.name;
      p = Object.getPrototypeOf(p);
    }
    return 'Object';
  }

  function findHook(v) {
    if (lib.inspectHooks.size === 0) return null;
    let p = Object.getPrototypeOf(v);
    for (let i = 0; p !== null && i < 4; i++) {
      const h = lib.inspectHooks.get(p);
      if (h) return h;
      p = Object.getPrototypeOf(p);
    }
    return null;
  }

  let asyncFnProto, genFnProto, asyncGenFnProto;
  function fnBase(fn) {
    let src = '';
    try { src = Function.prototype.toString.call(fn); } catch (_) { /* revoked proxy */ }
    const name = typeof fn.name === 'string' ? fn.name : '';
    if (/^class\b/.test(src)) {
      let s = '[class ' + (name || '(anonymous)');
      const sup = Object.getPrototypeOf(fn);
      if (sup !== Function.prototype && sup !== null && typeof sup.name === 'string' && sup.name) s += ' extends ' + sup.name;
      return s + ']';
    }
    if (!asyncFnProto) {
      asyncFnProto = Object.getPrototypeOf(async function () {});
      genFnProto = Object.getPrototypeOf(function* () {});
      asyncGenFnProto = Object.getPrototypeOf(async function* () {});
    }
    const p = Object.getPrototypeOf(fn);
    const kind = p === asyncFnProto ? 'AsyncFunction' : p === genFnProto ? 'GeneratorFunction' : p === asyncGenFnProto ? 'AsyncGeneratorFunction' : 'Function';
    return '[' + kind + (name ? ': ' + name : ' (anonymous)') + ']';
  }

  function ownKeys(v, skipIndices) {
    const keys = [];
    for (const k of Reflect.ownKeys(v)) {
      if (skipIndices && typeof k === 'string' && /^(0|[1-9][0-9]*)$/.test(k) && Number(k) < 4294967295) continue;
      const d = Object.getOwnPropertyDescriptor(v, k);
      if (d && d.enumerable) keys.push(k);
    }
    return keys;
  }

  function fmtProperty(ctx, v, k, level) {
    const d = Object.getOwnPropertyDescriptor(v, k);
    if (!d) return fmtKey(k) + ': undefined';
    if (d.get || d.set) return fmtKey(k) + ': ' + (d.get && d.set ? '[Getter/Setter]' : d.get ? '[Getter]' : '[Setter]');
    ctx.indent += 2;
    const s = fmtValue(ctx, d.value, level + 1);
    ctx.indent -= 2;
    return fmtKey(k) + ': ' + s;
  }

  function moreItems(n) { return `... ${n} more item${n === 1 ? '' : 's'}`; }

  /* Put short numeric-ish array entries into aligned columns, as Node does,
   * so a 100-element array takes a few lines instead of a hundred. */
  function groupColumns(ctx, out, raw, hasMore) {
    const n = hasMore ? out.length - 1 : out.length;
    let total = 0, maxLen = 0;
    for (let i = 0; i < n; i++) {
      if (out[i].includes('\n')) return out;
      total += out[i].length + 2;
      if (out[i].length > maxLen) maxLen = out[i].length;
    }
    const colMax = maxLen + 2;
    if (!(colMax * 3 + ctx.indent < BREAK && (total / colMax > 5 || maxLen <= 6))) return out;
    const bias = Math.sqrt(colMax - total / out.length);
    const biased = Math.max(colMax - 3 - bias, 1);
    const cols = Math.min(Math.round(Math.sqrt(2.5 * biased * n) / biased), Math.floor((BREAK - ctx.indent) / colMax), 12, 15);
    if (cols <= 1) return out;
    const widths = [];
    for (let c = 0; c < cols; c++) {
      let w = 0;
      for (let j = c; j < n; j += cols) if (out[j].length > w) w = out[j].length;
      widths.push(w + 2);
    }
    let numeric = true;
    if (raw) for (let i = 0; i < n; i++) { const t = typeof raw[i]; if (t !== 'number' && t !== 'bigint') { numeric = false; break; } }
    const rows = [];
    for (let i = 0; i < n; i += cols) {
      const end = Math.min(i + cols, n);
      let line = '';
      for (let j = i; j < end - 1; j++) {
        const cell = out[j] + ', ';
        line += numeric ? cell.padStart(widths[j - i]) : cell.padEnd(widths[j - i]);
      }
      line += numeric ? out[end - 1].padStart(widths[end - 1 - i] - 2) : out[end - 1];
      rows.push(line);
    }
    if (hasMore) rows.push(out[out.length - 1]);
    rows.grouped = true;
    return rows;
  }

  function reduceLines(ctx, out, base, open, close, level, grouped) {
    if (!grouped && ctx.currentDepth - level < 3) {
      const start = out.length + ctx.indent + open.length + base.length + 10;
      let total = out.length + start;
      let fits = total + out.length <= BREAK;
      for (let i = 0; fits && i < out.length; i++) {
        total += out[i].length;
        if (total > BREAK || out[i].includes('\n')) fits = false;
      }
      if (fits && !base.includes('\n')) return (base ? base + ' ' : '') + open + ' ' + out.join(', ') + ' ' + close;
    }
    const ind = '\n' + ' '.repeat(ctx.indent);
    return (base ? base + ' ' : '') + open + ind + '  ' + out.join(',' + ind + '  ') + ind + close;
  }

  let mapSize, setSize, mapEntries, setValues, taLength, taTag;
  function brand(getter, v) { try { getter.call(v); return true; } catch (_) { return false; } }

  function fmtError(ctx, e, level) {
    let name = 'Error', message = '', stack = '';
    const dn = Object.getOwnPropertyDescriptor(e, 'name');
    try { name = String(dn && 'value' in dn ? dn.value : e.name); } catch (_) { /* hostile getter */ }
    try { message = String(e.message); } catch (_) { /* hostile getter */ }
    const ds = Object.getOwnPropertyDescriptor(e, 'stack');
    if (ds && typeof ds.value === 'string') stack = ds.value.replace(/\s+$/, '');
    const head = message ? name + ': ' + message : name;
    let s = stack ? head + '\n' + stack : '[' + head + ']';
    if (ctx.indent && stack) s = s.split('\n').join('\n' + ' '.repeat(ctx.indent));
    const keys = ownKeys(e, false).filter((k) => k !== 'stack' && k !== 'message');
    const dc = Object.getOwnPropertyDescriptor(e, 'cause');
    const hasCause = dc !== undefined && !dc.enumerable && 'value' in dc;
    if (keys.length === 0 && !hasCause) return s;
    const out = keys.map((k) => fmtProperty(ctx, e, k, level));
    if (hasCause) {
      /* non-enumerable, so shown the way Node shows it */
      if (level >= ctx.depth) out.push('[cause]: [' + typeof dc.value + ']');
      else { ctx.indent += 2; out.push('[cause]: ' + fmtValue(ctx, dc.value, level + 1)); ctx.indent -= 2; }
    }
    return reduceLines(ctx, out, s, '{', '}', level, false);
  }

  function fmtValue(ctx, v, level) {
    if (v === null) return 'null';
    const t = typeof v;
    if (t !== 'object' && t !== 'function') return fmtPrimitive(v, true);
    if (ctx.seen.includes(v)) {
      let idx = ctx.circular.get(v);
      if (idx === undefined) { idx = ctx.circular.size + 1; ctx.circular.set(v, idx); }
      return '[Circular *' + idx + ']';
    }
    let s;
    try { s = fmtObject(ctx, v, level); } catch (_) { return t === 'function' ? '[Function]' : '[object (uninspectable)]'; }
    const idx = ctx.circular.get(v);
    return idx === undefined ? s : '<ref *' + idx + '> ' + s;
  }

  function fmtObject(ctx, v, level) {
    let name = ctorName(v);
    const nullProto = name === null;
    let tag = '';
    const td = typeof v === 'object' ? findTag(v) : undefined;
    if (typeof td === 'string' && td !== '' && td !== name) tag = td;
    const prefixFor = (fallback, size) => {
      let p = nullProto ? `[${fallback}${size}: null prototype]` : name === fallback ? fallback + size : name + size;
      if (tag && tag !== fallback) p += ' [' + tag + ']';
      return p;
    };
    if (typeof v === 'function') {
      const base = fnBase(v);
      const keys = ownKeys(v, false);
      if (keys.length === 0) return base;
      if (level > ctx.depth) return base;
      return withChildren(ctx, v, level, () => keys.map((k) => fmtProperty(ctx, v, k, level)), base, '{', '}');
    }
    if (Array.isArray(v)) {
      const len = v.length;
      const extra = ownKeys(v, true);
      const prefix = nullProto || name !== 'Array' ? prefixFor('Array', `(${len})`) : '';
      if (len === 0 && extra.length === 0) return (prefix ? prefix + ' ' : '') + '[]';
      if (level > ctx.depth) return '[' + (nullProto ? 'Array' : name) + ']';
      return withChildren(ctx, v, level, () => {
        const out = [];
        const shown = Math.min(len, MAX_ITEMS);
        for (let i = 0; i < shown; i++) {
          if (!Object.prototype.hasOwnProperty.call(v, i)) {
            let j = i;
            while (j < len && j - i < 1e9 && !Object.prototype.hasOwnProperty.call(v, j)) j++;
            const holes = j - i;
            out.push(`<${holes} empty item${holes === 1 ? '' : 's'}>`);
            i = j - 1;
            continue;
          }
          const d = Object.getOwnPropertyDescriptor(v, i);
          if (d.get || d.set) out.push(d.get && d.set ? '[Getter/Setter]' : d.get ? '[Getter]' : '[Setter]');
          else { ctx.indent += 2; out.push(fmtValue(ctx, d.value, level + 1)); ctx.indent -= 2; }
        }
        const hasMore = len > shown;
        if (hasMore) out.push(moreItems(len - shown));
        for (const k of extra) out.push(fmtProperty(ctx, v, k, level));
        return out.length > 6 && extra.length === 0 ? groupColumns(ctx, out, v, hasMore) : out;
      }, prefix, '[', ']');
    }
    if (ArrayBuffer.isView(v) && !(v instanceof DataView)) {
      if (!taLength) {
        const TA = Object.getPrototypeOf(Int8Array.prototype);
        taLength = Object.getOwnPropertyDescriptor(TA, 'length').get;
        taTag = Object.getOwnPropertyDescriptor(TA, Symbol.toStringTag).get;
      }
      const len = taLength.call(v);
      const kind = taTag.call(v);
      name = name || kind;
      const prefix = (name === kind ? kind : name + ' [' + kind + ']') + `(${len})`;
      if (len === 0) return prefix + ' []';
      if (level > ctx.depth) return '[' + name + ']';
      return withChildren(ctx, v, level, () => {
        const out = [];
        const shown = Math.min(len, MAX_ITEMS);
        for (let i = 0; i < shown; i++) out.push(fmtPrimitive(v[i], true));
        if (len > shown) out.push(moreItems(len - shown));
        return out.length > 6 ? groupColumns(ctx, out, null, len > shown) : out;
      }, prefix, '[', ']');
    }
    if (v instanceof ArrayBuffer) {
      const u8 = new Uint8Array(v);
      let hex = '';
      const shown = Math.min(u8.length, 50);
      for (let i = 0; i < shown; i++) hex += (i ? ' ' : '') + (u8[i] < 16 ? '0' : '') + u8[i].toString(16);
      if (u8.length > shown) hex += ` ... ${u8.length - shown} more byte${u8.length - shown === 1 ? '' : 's'}`;
      return `ArrayBuffer { [Uint8Contents]: <${hex}>, byteLength: ${u8.length} }`;
    }
    if (!mapSize) {
      mapSize = Object.getOwnPropertyDescriptor(Map.prototype, 'size').get;
      setSize = Object.getOwnPropertyDescriptor(Set.prototype, 'size').get;
      mapEntries = Map.prototype.entries; setValues = Set.prototype.values;
    }
    if (brand(mapSize, v)) {
      const size = mapSize.call(v);
      const prefix = prefixFor('Map', `(${size})`);
      const extra = ownKeys(v, false);
      if (size === 0 && extra.length === 0) return prefix + ' {}';
      if (level > ctx.depth) return '[' + (name || 'Map') + ']';
      return withChildren(ctx, v, level, () => {
        const out = [];
        let i = 0;
        for (const [k, val] of mapEntries.call(v)) {
          if (i++ >= MAX_ITEMS) break;
          ctx.indent += 2;
          out.push(fmtValue(ctx, k, level + 1) + ' => ' + fmtValue(ctx, val, level + 1));
          ctx.indent -= 2;
        }
        if (size > MAX_ITEMS) out.push(moreItems(size - MAX_ITEMS));
        for (const k of extra) out.push(fmtProperty(ctx, v, k, level));
        return out;
      }, prefix, '{', '}');
    }
    if (brand(setSize, v)) {
      const size = setSize.call(v);
      const prefix = prefixFor('Set', `(${size})`);
      const extra = ownKeys(v, false);
      if (size === 0 && extra.length === 0) return prefix + ' {}';
      if (level > ctx.depth) return '[' + (name || 'Set') + ']';
      return withChildren(ctx, v, level, () => {
        const out = [];
        let i = 0;
        for (const val of setValues.call(v)) {
          if (i++ >= MAX_ITEMS) break;
          ctx.indent += 2; out.push(fmtValue(ctx, val, level + 1)); ctx.indent -= 2;
        }
        if (size > MAX_ITEMS) out.push(moreItems(size - MAX_ITEMS));
        for (const k of extra) out.push(fmtProperty(ctx, v, k, level));
        return out;
      }, prefix, '{', '}');
    }
    if (v instanceof Error) return fmtError(ctx, v, level);
    let base = '';
    if (v instanceof Date) {
      const time = Date.prototype.getTime.call(v);
      base = Number.isNaN(time) ? 'Invalid Date' : Date.prototype.toISOString.call(v);
    } else if (v instanceof RegExp) base = RegExp.prototype.toString.call(v);
    else if (v instanceof Number) base = `[Number: ${fmtNumber(Number.prototype.valueOf.call(v))}]`;
    else if (v instanceof String) base = `[String: ${quote(String.prototype.valueOf.call(v))}]`;
    else if (v instanceof Boolean) base = `[Boolean: ${Boolean.prototype.valueOf.call(v)}]`;
    else if (v instanceof Symbol) base = `[Symbol: ${Symbol.prototype.toString.call(Symbol.prototype.valueOf.call(v))}]`;
    else if (v instanceof BigInt) base = `[BigInt: ${BigInt.prototype.valueOf.call(v)}n]`;
    else if (v instanceof WeakMap || v instanceof WeakSet) return (name || 'WeakMap') + ' { <items unknown> }';
    if (base) {
      const keys = v instanceof String ? ownKeys(v, true) : ownKeys(v, false);
      if (keys.length === 0 || level > ctx.depth) return base;
      return withChildren(ctx, v, level, () => keys.map((k) => fmtProperty(ctx, v, k, level)), base, '{', '}');
    }
    const hook = findHook(v);
    if (hook) {
      if (level > ctx.depth) return '[' + name + ']';
      const shown = hook(v);
      const keys = Object.keys(shown);
      if (keys.length === 0) return name + ' {}';
      return withChildren(ctx, v, level, () => keys.map((k) => fmtProperty(ctx, shown, k, level)), name, '{', '}');
    }
    const keys = ownKeys(v, false);
    const prefix = nullProto ? '[Object: null prototype]' + (tag ? ' [' + tag + ']' : '') : name === 'Object' ? (tag ? 'Object [' + tag + ']' : '') : name + (tag ? ' [' + tag + ']' : '');
    if (keys.length === 0) {
      if (v instanceof Promise) return (name === 'Promise' ? 'Promise' : prefix) + ' {}';
      return (prefix ? prefix + ' ' : '') + '{}';
    }
    if (level > ctx.depth) return '[' + (nullProto ? 'Object: null prototype' : name) + ']';
    return withChildren(ctx, v, level, () => keys.map((k) => fmtProperty(ctx, v, k, level)), prefix, '{', '}');
  }

  /* Symbol.toStringTag read only when it is a plain data property, so a
   * getter is never run. */
  function findTag(v) {
    let p = v;
    for (let i = 0; p !== null && i < 8; i++) {
      const d = Object.getOwnPropertyDescriptor(p, Symbol.toStringTag);
      if (d) return 'value' in d ? d.value : undefined;
      p = Object.getPrototypeOf(p);
    }
    return undefined;
  }

  function withChildren(ctx, v, level, build, base, open, close) {
    ctx.seen.push(v);
    ctx.currentDepth = level;
    let out;
    try { out = build(); } finally { ctx.seen.pop(); }
    return reduceLines(ctx, out, base, open, close, level, out.grouped === true);
  }

  function inspect(v, depth) {
    const ctx = { seen: [], circular: new Map(), indent: 0, currentDepth: 0, depth: depth === undefined ? DEFAULT_DEPTH : depth };
    try { return fmtValue(ctx, v, 0); } catch (_) { return '[uninspectable value]'; }
  }
  lib.inspect = inspect;

  /* Top-level error values print their stack; other values print inspected,
   * except strings, which print raw. */
  function formatArg(a) { return typeof a === 'string' ? a : inspect(a); }

  function formatArgs(args) {
    if (args.length === 0) return '';
    let first = args[0], rest = 1, out = '';
    if (typeof first === 'string' && first.includes('%')) {
      let i = 0;
      const s = first;
      while (i < s.length) {
        const pct = s.indexOf('%', i);
        if (pct < 0 || pct === s.length - 1) { out += s.slice(i); break; }
        out += s.slice(i, pct);
        const c = s[pct + 1];
        if (c === '%') { out += '%'; i = pct + 2; continue; }
        if ('sdifjoOc'.includes(c)) {
          if (rest >= args.length) { out += '%' + c; i = pct + 2; continue; }
          const a = args[rest++];
          out += formatDirective(c, a);
          i = pct + 2;
          continue;
        }
        out += '%'; i = pct + 1;
      }
    } else {
      out = formatArg(first);
    }
    for (let i = rest; i < args.length; i++) out += ' ' + formatArg(args[i]);
    return out;
  }

  function formatDirective(c, a) {
    try {
      switch (c) {
        case 's':
          if (typeof a === 'string') return a;
          if (typeof a === 'bigint') return a + 'n';
          if (typeof a === 'symbol' || typeof a === 'number') return fmtPrimitive(a, false);
          if (a !== null && (typeof a === 'object' || typeof a === 'function')) return inspect(a, 1);
          return String(a);
        case 'd':
          if (typeof a === 'bigint') return a + 'n';
          if (typeof a === 'symbol') return 'NaN';
          return fmtNumber(Number(a));
        case 'i':
          if (typeof a === 'bigint') return a + 'n';
          if (typeof a === 'symbol') return 'NaN';
          return fmtNumber(parseInt(a, 10));
        case 'f':
          if (typeof a === 'symbol') return 'NaN';
          return fmtNumber(parseFloat(a));
        case 'j':
          try { const j = JSON.stringify(a); return j === undefined ? 'undefined' : j; }
          catch (e) { return e instanceof TypeError && /circular/i.test(String(e.message)) ? '[Circular]' : '[unserializable]'; }
        case 'o': case 'O': return inspect(a);
        case 'c': return '';
      }
    } catch (_) { /* a hostile valueOf or toString */ }
    return '[unformattable]';
  }

  let groupIndent = '';
  function emit(level, text) {
    if (groupIndent) text = groupIndent + text.split('\n').join('\n' + groupIndent);
    try { native.log(level, text); } catch (_) { /* logging must never throw into user code */ }
  }
  lib.reportError = (e) => emit('error', 'Uncaught ' + formatArg(e));

  const counts = new Map(), timers = new Map();
  function label(l) { return l === undefined ? 'default' : String(l); }

  function table(data, columns) {
    if (data === null || typeof data !== 'object') return formatArgs([data]);
    const rowKeys = [], rows = [];
    const isMap = brand(Object.getOwnPropertyDescriptor(Map.prototype, 'size').get, data);
    if (isMap) for (const [k, v] of Map.prototype.entries.call(data)) { rowKeys.push(inspect(k)); rows.push(v); }
    else for (const k of Object.keys(data)) { rowKeys.push(k); rows.push(data[k]); }
    const cols = [];
    let hasValues = false;
    for (const r of rows) {
      if (r !== null && typeof r === 'object') { for (const k of Object.keys(r)) if (!cols.includes(k)) cols.push(k); }
      else hasValues = true;
    }
    const useCols = Array.isArray(columns) ? columns.map(String) : cols;
    const header = [isMap ? '(iteration index)' : '(index)', ...(isMap ? ['Key'] : []), ...useCols];
    if (hasValues) header.push('Values');
    const body = rows.map((r, i) => {
      const line = [isMap ? String(i) : rowKeys[i]];
      if (isMap) line.push(rowKeys[i]);
      for (const c of useCols) line.push(r !== null && typeof r === 'object' && Object.prototype.hasOwnProperty.call(r, c) ? inspect(r[c], 1) : '');
      if (hasValues) line.push(r !== null && typeof r === 'object' ? '' : inspect(r));
      return line;
    });
    const widths = header.map((h, i) => Math.max(h.length, ...body.map((l) => l[i].length)) + 2);
    const rule = (l, m, r) => l + widths.map((w) => '─'.repeat(w)).join(m) + r;
    const line = (cells) => '│' + cells.map((c, i) => ' ' + c.padEnd(widths[i] - 1)).join('│') + '│';
    return [rule('┌', '┬', '┐'), line(header), rule('├', '┼', '┤'), ...body.map(line), rule('└', '┴', '┘')].join('\n');
  }

  const console = {
    log(...args) { emit('log', formatArgs(args)); },
    info(...args) { emit('info', formatArgs(args)); },
    debug(...args) { emit('debug', formatArgs(args)); },
    warn(...args) { emit('warn', formatArgs(args)); },
    error(...args) { emit('error', formatArgs(args)); },
    trace(...args) { emit('log', 'Trace' + (args.length ? ': ' + formatArgs(args) : '')); },
    assert(condition = false, ...args) {
      if (condition) return;
      if (typeof args[0] === 'string') args[0] = 'Assertion failed: ' + args[0];
      else args.unshift('Assertion failed');
      emit('error', formatArgs(args));
    },
    dir(value, options = undefined) {
      const d = options != null && typeof options === 'object' && Number.isInteger(options.depth) ? options.depth : undefined;
      emit('log', inspect(value, d));
    },
    table(data, columns = undefined) {
      try { emit('log', table(data, columns)); } catch (_) { emit('log', formatArgs([data])); }
    },
    time(l = undefined) {
      const k = label(l);
      if (timers.has(k)) { emit('warn', `Warning: Label '${k}' already exists for console.time()`); return; }
      timers.set(k, native.now());
    },
    timeEnd(l = undefined) {
      const k = label(l);
      if (!timers.has(k)) { emit('warn', `Warning: No such label '${k}' for console.timeEnd()`); return; }
      emit('log', `${k}: ${(native.now() - timers.get(k)).toFixed(3)}ms`);
      timers.delete(k);
    },
    timeLog(l = undefined, ...args) {
      const k = label(l);
      if (!timers.has(k)) { emit('warn', `Warning: No such label '${k}' for console.timeLog()`); return; }
      emit('log', `${k}: ${(native.now() - timers.get(k)).toFixed(3)}ms` + (args.length ? ' ' + formatArgs(args) : ''));
    },
    count(l = undefined) {
      const k = label(l);
      const n = (counts.get(k) || 0) + 1;
      counts.set(k, n);
      emit('log', `${k}: ${n}`);
    },
    countReset(l = undefined) {
      const k = label(l);
      if (!counts.has(k)) { emit('warn', `Warning: Count for '${k}' does not exist`); return; }
      counts.set(k, 0);
    },
    group(...args) { if (args.length) emit('log', formatArgs(args)); groupIndent += '  '; },
    groupCollapsed(...args) { if (args.length) emit('log', formatArgs(args)); groupIndent += '  '; },
    groupEnd() { groupIndent = groupIndent.slice(0, -2); },
  };
  Object.defineProperty(console, Symbol.toStringTag, { value: 'console', configurable: true });
  lib.define('console', console);
})
