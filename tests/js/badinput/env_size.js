// The reference pins: Dynamic Worker env size (<n> bytes) exceeds the maximum allowed size of 1048576 bytes.
const msg = (f) => { try { f(); return "accepted"; } catch (e) { return `${e.name}: ${e.message.replace(/\(\d+ bytes\)/, "(N bytes)")}`; } };
export default {
  async fetch(req, env) {
    const base = { compatibilityDate: "2025-06-01", mainModule: "main.js", modules: { "main.js": "export default {}" } };
    return new Response([
      msg(() => env.LOADER.load({ ...base, env: { BIG: "x".repeat(2 << 20) } })),
      msg(() => env.LOADER.load({ ...base, env: { BIG: "x".repeat(1 << 20) } })),
    ].join("\n") + "\n");
  },
};
