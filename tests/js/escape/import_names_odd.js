// Module names built to confuse a resolver that hands names to the file
// system: NUL bytes, a 100,000-character name, newlines, Unicode look-alikes
// of "." and "/", a home directory, Windows device and UNC paths. From a
// child, each import() rejects naming the specifier (cut short when long);
// none reads a host file.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { async f() {
        const specs = ["./x.js\\0../../etc/passwd", "/etc/passwd\\0.js", "\\0", "./" + "a/".repeat(50000) + "x.js",
          "./x.js\\n../../etc/passwd", "\\uff0e\\uff0e/\\uff0e\\uff0e/etc/passwd", "./\\u2024\\u2024/etc/passwd", ".\\u2215..\\u2215etc\\u2215passwd",
          "~/.ssh/id_rsa", "$HOME/.bashrc", "\\\\\\\\?\\\\C:\\\\Windows\\\\win.ini", "//server/share/x.js", "C:/Windows/win.ini", "./x.js?../../etc/passwd", "./x.js#/../../../etc"];
        const out = [];
        for (const s of specs) {
          const shown = JSON.stringify(s.length > 60 ? s.slice(0, 30) + "...(" + s.length + ")" : s);
          try { out.push(shown + " -> ok " + Object.keys(await import(s)).join(",")); }
          catch (e) { const m = String(e.message); out.push(shown + " -> " + e.name + ": " + JSON.stringify(m.length > 200 ? m.slice(0, 40) + "...(" + m.length + ")" : m)); }
        }
        return out.join("\\n");
      } }`,
      "x.js": "export const x = 1;",
    } });
    return new Response(await w.getEntrypoint().f() + "\n");
  },
};
