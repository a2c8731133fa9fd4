// A child given the parent's Worker Loader binding tries to load children
// recursively without end: the binding reaches it as a stub, but the
// grandchild's entrypoint cannot be handed to it, so the recursion ends at
// once with the reference's named DataCloneError, never a hang or a crash.
const SRC = `import { WorkerEntrypoint } from "cloudflare:workers";
export default class extends WorkerEntrypoint {
  async go(depth) {
    if (!this.env.LOADER) return "no loader at depth " + depth;
    const w = this.env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", modules: { "m.js": this.env.SRC },
      env: { LOADER: this.env.LOADER, SRC: this.env.SRC } });
    // Through the passed-on binding (a stub) load() and getEntrypoint() answer
    // with promises, so both are awaited.
    return (await (await w).getEntrypoint()).go(depth + 1);
  }
}`;
export default {
  async fetch(req, env) {
    const out = [];
    try {
      const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, env: { LOADER: env.LOADER, SRC },
        modules: { "m.js": SRC } });
      out.push("returned: " + await w.getEntrypoint().go(0));
    } catch (e) { out.push(e.name + ": " + e.message); }
    return new Response(out.join("\n") + "\n");
  },
};
