// A NUL character in a module name or in mainModule is refused by name.
// A C string would end at the NUL: "a\0b.js" would quietly become "a", and
// the error (or worse, the module loaded) would name something else.
export default {
  async fetch(request, env) {
    const out = [];
    const body = "export default { fetch() { return new Response('hi') } }";
    const tries = [
      { mainModule: "a\u0000b.js", modules: { "a\u0000b.js": body } },
      { mainModule: "m.js", modules: { "m.js": body, "x\u0000y.js": "export default 1" } },
      { mainModule: "m.js", modules: { "m.js": body, "z\u0000.js": { js: "export default 1" } } },
      { mainModule: "m.js", modules: { "m.js": body } },
    ];
    for (const t of tries) {
      try {
        const w = env.LOADER.load({ compatibilityDate: "2025-06-01", ...t });
        const r = await w.getEntrypoint().fetch("http://x/");
        out.push("ok " + await r.text());
      } catch (e) {
        out.push(`${e.name}: ${e.message}`);
      }
    }
    return new Response(out.join("\n"));
  }
};
