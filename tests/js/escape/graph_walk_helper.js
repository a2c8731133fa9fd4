// The walker of graph_walk.js: the top-level worker imports it, and hands
// its source text to the child it loads.
export const walk = (roots) => {
  const seen = new Set(), bad = [], queue = [...roots];
  const allowed = /^(__proto__|__defineGetter__|__defineSetter__|__lookupGetter__|__lookupSetter__)$/;
  let n = 0;
  while (queue.length && n < 20000) {
    const [path, v] = queue.shift();
    if ((typeof v !== "object" && typeof v !== "function") || v === null || seen.has(v)) continue;
    seen.add(v); n++;
    let keys; try { keys = Reflect.ownKeys(v); } catch (e) { continue; }
    for (const k of keys) {
      const name = String(k);
      if (/corral|native|install|^_|internal|rawCall|loopback/i.test(name) && !allowed.test(name)) bad.push(path + "." + name);
      let d; try { d = Reflect.getOwnPropertyDescriptor(v, k); } catch (e) { continue; }
      if (!d) continue;
      for (const x of [d.value, d.get, d.set]) if (x !== undefined) queue.push([path + "." + name, x]);
    }
    try { queue.push([path + ".[[Prototype]]", Object.getPrototypeOf(v)]); } catch (e) {}
  }
  return (n > 500 ? "walked more than 500 objects" : "walked " + n) + ", suspicious: " + JSON.stringify(bad);
};
