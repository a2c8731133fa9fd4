// The path in the nesting-depth DataCloneError is cut mid-token ("...[0][)"); it should end on a whole segment or "...".
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "c.js", modules: { "c.js": "export default { echo() { return 1; } }" } });
    let a = []; for (let i = 0; i < 300; i++) a = [a];
    try { await w.getEntrypoint().echo(a); } catch (e) { return new Response(/\[\)\.$/.test(e.message) ? "cut mid-token\n" : "well-formed\n"); }
  },
};
