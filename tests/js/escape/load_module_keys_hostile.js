// load() with module maps built to escape: a mainModule outside the map or
// naming a host file, keys with NUL bytes, empty, "." and ".." keys, and a
// mainModule that is a directory-like name. Each load() is refused, or the
// call rejects, with a named error; no host file is read.
const amsg = async (f) => { try { return "ok " + JSON.stringify(await f()); } catch (e) { return `${e.name}: ${e.message}`; } };
const main = "export default { f() { return 'ran'; } };";
export default {
  async fetch(req, env) {
    const out = [];
    for (const [label, mainModule, modules] of [
      ["main outside the map", "../m.js", { "m.js": main }],
      ["main is /etc/passwd", "/etc/passwd", { "m.js": main }],
      ["main is file: URL", "file:///etc/passwd", { "m.js": main }],
      ["main names a missing key", "n.js", { "m.js": main }],
      ["empty key", "", { "": main }],
      ["dot key", ".", { ".": main }],
      ["dotdot key", "..", { "..": main }],
      ["NUL in key", "m.js\0/../../etc/passwd", { "m.js\0/../../etc/passwd": main }],
      ["key cut at its NUL", "m.js", { "m.js\0/../../etc/passwd": main }],
      ["main cut at its NUL", "m.js\0.txt", { "m.js": main }],
      ["main is a folder", "sub", { "sub/m.js": main }],
      ["module is not a string", "m.js", { "m.js": { js: { toString() { return main; } } } }],
      ["module is a number", "m.js", { "m.js": 42 }],
    ]) {
      out.push(label + " -> " + await amsg(() => env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule, globalOutbound: null, modules }).getEntrypoint().f()));
    }
    return new Response(out.join("\n") + "\n");
  },
};
