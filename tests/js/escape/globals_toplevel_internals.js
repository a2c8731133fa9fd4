// The top-level worker cannot find corral's runtime object or installer:
// no own or inherited global name mentions corral, and the names a hostile
// model would guess are all undefined.
const guesses = ["__corralInstallRuntime", "__corral", "__corralNative", "__corralRuntime", "native", "web", "__native",
  "__web", "corral", "_corral", "__loadScript", "__dirname", "__filename", "bjson", "std", "os", "scriptArgs", "print"];
export default {
  fetch() {
    const all = [];
    for (let o = globalThis; o; o = Object.getPrototypeOf(o)) all.push(...Reflect.ownKeys(o).map(String));
    const out = [
      "names mentioning corral: " + JSON.stringify(all.filter((n) => /corral/i.test(n))),
      ...guesses.map((g) => g + ": " + typeof globalThis[g]),
    ];
    return new Response(out.join("\n") + "\n");
  },
};
