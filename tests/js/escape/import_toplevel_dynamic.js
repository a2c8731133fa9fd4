// import() from the top-level worker of names outside its folder and of
// built-ins: every one rejects naming the specifier and the importer.
export default {
  async fetch() {
    const out = [];
    for (const s of ["/etc/passwd", "../../../../../../etc/passwd", "file:///etc/passwd", "./%2e%2e/%2e%2e/run.sh",
      "..%2f..%2frun.sh", "fs", "os", "std", "qjs:std", "qjs:os", "node:child_process", "/proc/self/environ",
      "data:text/javascript,export default 1"]) {
      try { out.push(s + " -> ok " + Object.keys(await import(s)).join(",")); }
      catch (e) { out.push(`${s} -> ${e.name}: ${e.message}`); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
