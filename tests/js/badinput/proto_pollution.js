// A child returns objects built to pollute prototypes ("__proto__" own keys
// from JSON.parse or defineProperty, "constructor.prototype", inherited
// properties, its own Object.prototype changed): the parent receives plain
// data with an own "__proto__" key at most, and its prototypes stay clean.
const child = `
export default {
  json() { return JSON.parse('{"__proto__": {"polluted": 1}, "a": 1}'); },
  defined() { const o = {}; Object.defineProperty(o, "__proto__", { value: { polluted: 2 }, enumerable: true }); return o; },
  nested() { return { x: [JSON.parse('{"__proto__": {"polluted": 3}}')], constructor: { prototype: { polluted: 4 } } }; },
  inherited() { return Object.create({ polluted: 5 }); },
  mutate() { Object.prototype.polluted = 6; Array.prototype.polluted = 6; return [{}]; },
  getter() { return { get polluted() { return 7; } }; },
  map() { return new Map([["__proto__", { polluted: 8 }]]); },
};`;
export default {
  async fetch(req, env, ctx) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "c.js", modules: { "c.js": child } });
    const e = w.getEntrypoint();
    const out = [];
    for (const m of ["json", "defined", "nested", "inherited", "mutate", "getter"]) {
      const v = await e[m]();
      out.push(`${m}: ${JSON.stringify(v)} own __proto__=${Object.hasOwn(v, "__proto__")} ` +
        `plain=${Object.getPrototypeOf(v) === (Array.isArray(v) ? Array.prototype : Object.prototype)} ` +
        `({}).polluted=${({}).polluted} [].polluted=${[].polluted} v.polluted=${v.polluted}`);
    }
    const m = await e.map();
    out.push(`map: ${JSON.stringify(m.get("__proto__"))} ({}).polluted=${({}).polluted}`);
    out.push("Object.prototype keys: " + JSON.stringify(Object.getOwnPropertyNames(Object.prototype).filter((k) => k === "polluted")));
    return new Response(out.join("\n") + "\n");
  },
};
