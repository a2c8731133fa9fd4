// No other way to run new code: no Worker, SharedWorker, importScripts,
// WebAssembly, ShadowRealm, and Atomics.wait cannot block the loop.
export default {
  fetch() {
    const out = ["Worker=" + typeof Worker, "SharedWorker=" + typeof SharedWorker, "importScripts=" + typeof importScripts,
      "WebAssembly=" + typeof WebAssembly, "ShadowRealm=" + typeof ShadowRealm, "Compartment=" + typeof Compartment];
    for (const [label, fn] of [["new Worker", () => new Worker("data:,x")], ["WebAssembly.compile", () => WebAssembly.compile(new Uint8Array(8))],
      ["Atomics.wait", () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)],
      ["Atomics.wait timeout", () => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1e9)]]) {
      try { out.push(label + ": returned " + fn()); } catch (e) { out.push(label + ": " + e.name + ": " + e.message); }
    }
    return new Response(out.join("\n") + "\n");
  },
};
