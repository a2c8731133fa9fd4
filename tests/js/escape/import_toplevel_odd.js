// import() from the top-level worker of names that try to leave its folder
// or reach a host file sideways: the folder itself, a sibling file that is
// not a module (and so not in the map), the test runner by a path that
// dips out and back in, and built-in namespaces with extra path segments.
export default {
  async fetch() {
    const out = [];
    for (const s of [".", "./", "", "./import_toplevel_odd.expected", "./../escape/import_toplevel_odd.js", "../../run.sh",
      "./sub/../../escape/x.js", "cloudflare:workers/../../etc/passwd", "cloudflare:", "cloudflare:workers\0/x", "CLOUDFLARE:WORKERS",
      "node:", "node:fs/promises", "node:../../etc/passwd"]) {
      try { const m = await import(s); out.push(JSON.stringify(s) + " -> ok " + Object.keys(m).sort().join(",")); }
      catch (e) { out.push(JSON.stringify(s) + " -> " + e.name + ": " + e.message); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
