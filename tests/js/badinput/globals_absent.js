// No ambient authority: none of Node's, Deno's, Bun's or the QuickJS
// shell's globals exist, read at the top level of the module or in a call.
const topLevel = [typeof process, typeof require, typeof module, typeof exports, typeof Deno, typeof Bun,
  typeof std, typeof os, typeof scriptArgs, typeof print, typeof __loadScript, typeof __filename, typeof global];
const names = ["process", "require", "module", "exports", "Deno", "Bun", "std", "os", "scriptArgs", "print",
  "__loadScript", "__filename", "global"];
export default {
  fetch() {
    const out = ["top level: " + names.map((n, i) => n + "=" + topLevel[i]).join(" ")];
    out.push("in globalThis: " + names.filter((n) => n in globalThis).join(",") + "(none)");
    for (const [label, f] of [["process.env", () => process.env], ["require('fs')", () => require("fs")],
      ["Deno.readTextFile", () => Deno.readTextFile], ["Bun.file", () => Bun.file], ["std.loadFile", () => std.loadFile],
      ["os.exec", () => os.exec], ["scriptArgs[0]", () => scriptArgs[0]]]) {
      try { f(); out.push(label + ": reachable"); } catch (e) { out.push(`${label}: ${e.name}: ${e.message}`); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
