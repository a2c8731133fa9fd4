// A catastrophic regular expression in a child is stopped by the child's
// own CPU limit; the parent catches the error and keeps running, and a
// fresh call to the same child works.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, limits: { cpuMs: 50 }, modules: {
      "m.js": `export default { bomb(s) { return /^(\\w+\\s?)*$/.test(s); }, back(s) { return /(a*)*\\1b/.test(s); }, ok() { return "ok"; } }` } });
    const e = w.getEntrypoint();
    const out = [];
    for (const [m, arg] of [["bomb", "a".repeat(40) + "!"], ["back", "a".repeat(5000)], ["ok", ""]]) {
      try { out.push(m + ": " + await e[m](arg)); } catch (err) { out.push(m + ": " + err.name + (/CpuLimitError/.test(err.message) || /CPU time limit of 50 ms/.test(err.message) ? " (limit message)" : ": " + err.message)); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
