// A child with globalOutbound: null cannot reach loopback, link-local cloud
// metadata endpoints, or hosts hidden behind odd IPv4/IPv6 spellings:
// every fetch() throws the reference's message before any connection.
export default {
  async fetch(req, env) {
    const w = env.LOADER.load({ compatibilityDate: "2025-06-01", mainModule: "m.js", globalOutbound: null, modules: {
      "m.js": `export default { async f() {
        const out = [];
        for (const u of ["http://169.254.169.254/latest/meta-data/", "http://metadata.google.internal/computeMetadata/v1/",
          "http://[fd00:ec2::254]/", "http://100.100.100.200/", "http://2130706433/", "http://0x7f.1/", "http://0177.0.0.1/",
          "http://[::1]/", "http://[::ffff:127.0.0.1]/", "http://0.0.0.0:22/", "https://localhost.:443/", "http://127.1/"]) {
          try { await fetch(u); out.push(u + " fetched"); }
          catch (e) { out.push(new URL(u).hostname + " -> " + e.name + ": " + e.message.slice(0, 60)); }
        }
        return out.join("\\n");
      } }` } });
    return new Response(await w.getEntrypoint().f() + "\n");
  },
};
