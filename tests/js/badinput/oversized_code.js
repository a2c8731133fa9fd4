// The reference's 64 MiB limit on the sum of module sources: load() of
// exactly 64 MiB is accepted, one byte more throws the reference's error.
const msg = (f) => { try { f(); return "accepted"; } catch (e) { return `${e.name}: ${e.message}`; } };
export default {
  async fetch(req, env) {
    const main = "export default {}";
    const pad = "x".repeat((64 << 20) - main.length);
    const base = { compatibilityDate: "2025-06-01", mainModule: "main.js" };
    const out = [
      msg(() => env.LOADER.load({ ...base, modules: { "main.js": main, "pad.txt": { text: pad } } })),
      msg(() => env.LOADER.load({ ...base, modules: { "main.js": main, "pad.txt": { text: pad }, "one.txt": { text: "x" } } })),
    ];
    return new Response(out.join("\n") + "\n");
  },
};
