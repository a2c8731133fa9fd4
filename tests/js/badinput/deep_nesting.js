// Values nested deeper than 256 levels cannot cross a sandbox boundary, in
// either direction: DataCloneError naming the limit (the path is cut here).
const show = async (p) => {
  try { await p; return "ok"; } catch (e) { return `${e.name}: ${e.message.slice(0, e.message.indexOf(" (at "))} ${e.message.includes(" (at value[0]") ? "(path given)" : "(no path)"}`; }
};
const nest = (n) => { let a = []; for (let i = 1; i < n; i++) a = [a]; return a; };  // n levels
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "c.js", modules: { "c.js": `
      const nest = (n) => { let a = []; for (let i = 1; i < n; i++) a = [a]; return a; };
      export default { echo(v) { return "echoed"; }, deep(n) { return nest(n); } }` } });
    const e = w.getEntrypoint();
    const out = [];
    // The argument list is one more level.
    for (const n of [255, 256, 100000]) out.push(`argument ${n} deep: ${await show(e.echo(nest(n)))}`);
    for (const n of [256, 257, 100000]) out.push(`result ${n} deep: ${await show(e.deep(n))}`);
    let o = {}; for (let i = 0; i < 300; i++) o = { o };
    out.push(`object 300 deep: ${await show(e.echo(o))}`);
    let m = new Map(); for (let i = 0; i < 300; i++) m = new Map([[1, m]]);
    out.push(`map 300 deep: ${await show(e.echo(m))}`);
    out.push(`worker still answers: ${await e.echo(1)}`);
    return new Response(out.join("\n") + "\n");
  },
};
